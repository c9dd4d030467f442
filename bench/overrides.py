"""What overrides cost the probe path: `observe` per result, with and without drains, and the
daemon's one-second tick: the fleet scan it was, and the index by end time it is.

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
from modelmesh_healthd.state.overrides import expire_overrides, set_override
from modelmesh_healthd.state.windows import open_windows


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

    def scan_tick(core: HealthCore, now: float) -> None:
        # The tick before the index: every provider and model looked at, every second.
        expire_overrides(core.mesh, core.state, now, policy=core.policy)
        open_windows(core.mesh, core.state, core.windows, now, policy=core.policy)

    # 10% of the providers drained, none due: the tick of a quiet second.
    waiting = fleet(n)
    for p in waiting.mesh.providers[::10]:
        waiting.overrides.note_events(
            set_override(waiting.mesh, waiting.state, p, until=1e12, reason="bench", now=0.5)
        )
    scan = best(5, lambda: scan_tick(waiting, t[0]))
    indexed = best(5, lambda: waiting.tick(t[0]))
    rows.append((f"tick, fleet scan (before), {n // 10} drains waiting", scan * 1e6))
    rows.append((f"tick, indexed (after), {n // 10} drains waiting", indexed * 1e6))

    def one_due() -> float:
        # A tick that ends one drain (set again before each run, outside the timing).
        core = fleet(n)
        core.overrides.note_events(
            set_override(core.mesh, core.state, "p0", until=2.0, reason="bench", now=0.5)
        )
        start = time.perf_counter()
        core.tick(3.0)
        return time.perf_counter() - start

    rows.append(("tick, indexed (after), one drain ending", min(one_due() for _ in range(5)) * 1e6))

    print(f"| what ({n} providers x 3 models) | microseconds |")
    print("|---|---:|")
    for what, us in rows:
        print(f"| {what} | {us:.1f} |")
    print(f"\ntick before/after (nothing due): {scan / indexed:,.0f}x")


if __name__ == "__main__":
    main()
