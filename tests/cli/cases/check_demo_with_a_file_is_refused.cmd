args: check --demo {config}/demo.yaml
