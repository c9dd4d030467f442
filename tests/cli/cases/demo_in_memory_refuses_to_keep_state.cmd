args: demo --store memory: --keep-state
