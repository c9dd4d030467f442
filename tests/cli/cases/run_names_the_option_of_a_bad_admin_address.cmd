args: run {config}/demo.yaml --admin-listen 9464
