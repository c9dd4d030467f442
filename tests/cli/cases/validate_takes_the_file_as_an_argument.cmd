args: validate {config}/demo.yaml
