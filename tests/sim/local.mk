# placeholder (owner: sim)
