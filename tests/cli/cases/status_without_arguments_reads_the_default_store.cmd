# The store run and demo use without a configuration: nothing there yet.
args: status
