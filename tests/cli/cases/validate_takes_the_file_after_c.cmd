args: validate -c {config}/demo.yaml
