args: run
