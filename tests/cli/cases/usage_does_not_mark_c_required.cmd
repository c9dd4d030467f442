# A usage error prints the command's usage line: -c FILE is in brackets, not required.
args: run -c
