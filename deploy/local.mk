# placeholder (owner fills in)
