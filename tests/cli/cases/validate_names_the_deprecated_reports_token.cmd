args: validate {cases}/reports-token.yaml
