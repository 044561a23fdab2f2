/* placeholder: implemented by the chproto engineer */
