args: validate
