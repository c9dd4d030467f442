args: run {cases}/bad-store.yaml
