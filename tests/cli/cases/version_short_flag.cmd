args: -V
