args: run {config}/demo.yaml --store bogus://x
