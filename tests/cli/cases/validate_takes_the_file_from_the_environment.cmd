args: validate
env: MODELMESH_HEALTHD_CONFIG={config}/demo.yaml
