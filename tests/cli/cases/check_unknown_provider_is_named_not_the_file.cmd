args: check {config}/demo.yaml --provider nosuch --provider opena
