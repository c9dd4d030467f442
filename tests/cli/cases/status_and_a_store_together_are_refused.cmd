args: status {config}/demo.yaml --store sqlite:///x.db
