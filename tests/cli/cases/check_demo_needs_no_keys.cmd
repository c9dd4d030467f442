# The try-it path: the simulator on a free port, the demo configuration, no keys.
args: check --demo
