# Every provider answers throughout: the state the demo ends with does not depend on timing.
args: demo --duration 6 --scenario {cases}/steady-scenario.yaml --store memory: --log-level error
