args: status --store sqlite://
