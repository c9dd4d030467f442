args: status --help
