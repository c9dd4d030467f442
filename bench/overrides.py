"""What overrides cost the probe path: `observe` per result, with and without drains, and the
daemon's one-second tick over the whole fleet.

    .venv/bin/python bench/overrides.py             # 1,000 providers x 3 models
    .venv/bin/python bench/overrides.py --providers 10000

Prints one table (microseconds, best of 5 runs, on this machine).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from modelmesh_healthd.state import (
    DEFAULT_POLICY,
    ConnectivityGuard,
    HealthCore,
    Mesh,
    Observation,
    Outcome,
    initial_state,
    observe,
)
from modelmesh_healthd.state.overrides import set_override


def fleet(providers: int) -> HealthCore:
    names = [f"p{i}" for i in range(providers)]
    models = {f"p{i}.m{j}": f"p{i}" for i in range(providers) for j in range(3)}
    mesh = Mesh.build(names, models, {"all": list(models)})
    return HealthCore(
        mesh, initial_state(mesh), DEFAULT_POLICY, ConnectivityGuard(enabled=False), providers
    )


def best(runs: int, fn: Callable[[], None]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", type=int, default=1000)
    args = parser.parse_args()
    n = args.providers
    ok = Observation(Outcome.OK, latency=0.1)
    rows: list[tuple[str, float]] = []

    plain = fleet(n)
    t = [1.0]

    def probe_all(core: HealthCore) -> Callable[[], None]:
        def run() -> None:
            for p in core.mesh.providers:
                t[0] += 1.0
                observe(core, p, ok, t[0])

        return run

    rows.append(("observe, no override", best(5, probe_all(plain)) / n * 1e6))
    drained = fleet(n)
    for p in drained.mesh.providers:
        set_override(drained.mesh, drained.state, p, until=1e12, reason="bench", now=0.5)
    rows.append(("observe, provider drained (held)", best(5, probe_all(drained)) / n * 1e6))
    models = fleet(n)
    for p in models.mesh.providers:
        m = models.mesh.provider_models[p][0]
        set_override(models.mesh, models.state, m, until=1e12, reason="bench", now=0.5)
    rows.append(("observe, one model drained", best(5, probe_all(models)) / n * 1e6))
    rows.append((f"tick over {n} providers", best(5, lambda: plain.tick(t[0])) * 1e6))

    print(f"| what ({n} providers x 3 models) | microseconds |")
    print("|---|---:|")
    for what, us in rows:
        print(f"| {what} | {us:.1f} |")


if __name__ == "__main__":
    main()
