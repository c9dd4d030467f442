"""One module per provider kind: its plan (the requests), its judges and its error `Dialect`.

Each module exports `plan(target) -> tuple[Step, ...]` and `DIALECT`, and `OPTIONS` when the
kind takes typed options. `probes.registry` resolves them once from the kinds registry
(`modelmesh_healthd.kinds`), where each kind's defaults live.
"""
