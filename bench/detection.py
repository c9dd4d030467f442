"""How fast the daemon notices an outage, and a recovery, with the default health policy.

Runs the real daemon in this process against the provider simulator. Each trial provider is
healthy, then starts failing at a random moment (an HTTP 500 outage, a hung server, a revoked
key), and later recovers at a random moment. The time from the change to `provider.down` and to
`provider.up` is measured and compared with the bound the policy and the schedule imply.

    .venv/bin/python bench/detection.py                 # schedule scaled to 1/10 (3 s interval)
    .venv/bin/python bench/detection.py --scale 1       # the default 30 s schedule (slow)

The schedule is the default one multiplied by `--scale`; the health policy is always the
default (`HealthPolicy()`), so the failure and success counts are the production ones.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from modelmesh_healthd.config import ScheduleConfig, load_config
from modelmesh_healthd.daemon.logs import configure_logging
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.simulator import SimProvider, Simulator
from modelmesh_healthd.state import DEFAULT_POLICY, Event, ProviderDown, ProviderUp

OUTAGES = {"server_error": "HTTP 500", "hang": "no answer (timeout)", "key_revoked": "bad key"}


def config_text(base_url: str, names: list[str], schedule: ScheduleConfig, store: str) -> str:
    providers = "\n".join(
        f'  {n}: {{kind: openai, base_url: "{base_url}/{n}/v1", api_key: sk-{n}}}' for n in names
    )
    return f"""
daemon: {{summary_interval: 0, network_guard: {{enabled: true, min_providers: 3}}}}
schedule:
  interval: {schedule.interval}s
  fast_interval: {schedule.fast_interval}s
  down_interval: {schedule.down_interval}s
  down_interval_max: {schedule.down_interval_max}s
  jitter: {schedule.jitter}
  timeout: {schedule.timeout}s
http: {{trust_env: false}}
storage: {{url: "{store}"}}
admin: {{enabled: false}}
providers:
{providers}
"""


def bounds(schedule: ScheduleConfig, outage: str, down_for: float) -> tuple[float, float]:
    """Worst-case detection times the policy and schedule imply.

    Down: the outage starts just after a good probe, so the first failing probe comes one
    jittered interval later, then the rest of the failures needed, one fast interval apart; each
    failing probe lasts up to its timeout when the server hangs.
    Up: the recovery comes at most `down_for` seconds after the provider went down, just after a
    failed probe; the wait then in progress is the (doubling, capped, jittered) down interval
    reached by that time; then the rest of the successes needed, a fast interval apart.
    """
    j = 1.0 + schedule.jitter
    failures = 1 if outage == "key_revoked" else DEFAULT_POLICY.failures_to_down(1.0)
    probe_time = schedule.timeout if outage == "hang" else 0.05
    down = (
        failures * probe_time + schedule.interval * j + (failures - 1) * schedule.fast_interval * j
    )
    waited, wait, probes_down = 0.0, schedule.down_interval, 0
    while waited + wait * j < down_for:
        waited += wait * j + probe_time
        wait = min(wait * 2, schedule.down_interval_max)
        probes_down += 1
    score = (1 - DEFAULT_POLICY.ema_alpha) ** (failures + probes_down)
    successes = DEFAULT_POLICY.successes_to_up(score)
    up = wait * j + successes * probe_time + (successes - 1) * schedule.fast_interval * j
    return down, up


Results = dict[str, list[tuple[float, float]]]


async def trial_run(args: argparse.Namespace, workdir: Path) -> Results:
    rng = random.Random(args.seed)
    base = ScheduleConfig()
    schedule = ScheduleConfig(
        interval=base.interval * args.scale,
        fast_interval=base.fast_interval * args.scale,
        down_interval=base.down_interval * args.scale,
        down_interval_max=base.down_interval_max * args.scale,
        jitter=base.jitter,
        timeout=base.timeout * args.scale,
    )
    names = [f"{o}-{i}" for o in OUTAGES for i in range(args.trials)]
    bystanders = [f"ok-{i}" for i in range(3)]  # keep answering: the guard sees our network works
    sims = [
        SimProvider(name=n, kind="openai", api_key=f"sk-{n}", models=("m",))
        for n in names + bystanders
    ]
    marks: dict[str, dict[str, float]] = {n: {} for n in names}
    seen: dict[tuple[str, str], asyncio.Event] = {
        (n, e): asyncio.Event() for n in names for e in ("provider.down", "provider.up")
    }

    def sink(events: list[Event]) -> None:
        now = time.monotonic()
        for e in events:
            if isinstance(e, ProviderDown | ProviderUp) and e.provider in marks:
                marks[e.provider].setdefault(e.name, now)
                seen[(e.provider, e.name)].set()

    async with Simulator(sims) as sim:
        path = workdir / "detection.yaml"
        path.write_text(config_text(sim.base_url, names + bystanders, schedule, "memory://d"))
        daemon = Daemon(load_config(path, environ={}), environ={})
        daemon.sinks.append(sink)
        task = asyncio.create_task(daemon.run())
        await asyncio.sleep(schedule.interval * 1.5)  # past the initial stagger: steady state

        async def one(name: str, outage: str) -> None:
            await asyncio.sleep(rng.uniform(0, schedule.interval))
            marks[name]["outage"] = time.monotonic()
            sim.set_behaviour(name, outage)
            await seen[(name, "provider.down")].wait()
            await asyncio.sleep(args.down_for + rng.uniform(0, schedule.down_interval))
            marks[name]["recovery"] = time.monotonic()
            sim.set_behaviour(name, "healthy")
            await seen[(name, "provider.up")].wait()

        await asyncio.gather(*(one(n, n.rsplit("-", 1)[0]) for n in names))
        daemon.request_stop("bench")
        await task

    results: dict[str, list[tuple[float, float]]] = {o: [] for o in OUTAGES}
    for name in names:
        m = marks[name]
        results[name.rsplit("-", 1)[0]].append(
            (m["provider.down"] - m["outage"], m["provider.up"] - m["recovery"])
        )
    results["_schedule"] = [(schedule.interval, schedule.fast_interval)]
    args.schedule = schedule
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1, help="schedule = default x scale")
    parser.add_argument("--trials", type=int, default=8, help="providers per outage kind")
    parser.add_argument("--down-for", type=float, default=None, help="outage length (s)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.down_for is None:
        args.down_for = 60.0 * args.scale
    configure_logging("error", "json", stream=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(trial_run(args, Path(tmp)))
    schedule: ScheduleConfig = args.schedule
    print(
        f"detection with the default policy (alpha {DEFAULT_POLICY.ema_alpha}, down below "
        f"{DEFAULT_POLICY.min_availability}, up at {DEFAULT_POLICY.recovery_threshold} after "
        f"{DEFAULT_POLICY.recovery_successes} successes); schedule: interval "
        f"{schedule.interval:g}s, fast {schedule.fast_interval:g}s, down {schedule.down_interval:g}"
        f"-{schedule.down_interval_max:g}s, timeout {schedule.timeout:g}s, jitter "
        f"{schedule.jitter:g}; {args.trials} trials each, outages of ~{args.down_for:g}s"
    )
    print()
    header = (
        f"{'outage':<22} {'to down: median':>16} {'max':>8} {'bound':>8}   "
        f"{'to up: median':>14} {'max':>8} {'bound':>8}"
    )
    print(header)
    for outage, label in OUTAGES.items():
        rows = results[outage]
        downs = [d for d, _ in rows]
        ups = [u for _, u in rows]
        down_bound, up_bound = bounds(schedule, outage, args.down_for + schedule.down_interval)
        print(
            f"{label:<22} {statistics.median(downs):>15.2f}s {max(downs):>7.2f}s "
            f"{down_bound:>7.2f}s   {statistics.median(ups):>13.2f}s {max(ups):>7.2f}s "
            f"{up_bound:>7.2f}s"
        )


if __name__ == "__main__":
    main()
