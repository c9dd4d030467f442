args: check {config}/demo.yaml -c {config}/example.yaml
