"""Replicas sharing one store: probes per provider per interval, takeover time, fenced writes.

Starts the provider simulator in this process and N replica processes (`modelmesh-healthd run`)
on one configuration against one Redis (default) or PostgreSQL store with `replicas=on`, then:

1. counts, at the simulator, the probes each provider gets over a window of steady state
   (target: 1.00 +- 0.01 probes per provider per interval, none twice in one interval);
2. kills a replica with SIGKILL, `--kills` times (a fresh one replaces it each time), and
   measures the time from the kill to the first probe of each of its providers by another
   replica (target: max <= lease TTL + one interval);
3. acts as a stale writer: claims a provider's lease, lets it expire, waits for a replica to
   take it over, then writes under the old token; counts the writes the store accepted
   (target: 0).

    .venv/bin/python bench/replicas.py
    .venv/bin/python bench/replicas.py --store postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

from modelmesh_healthd.daemon.logs import configure_logging
from modelmesh_healthd.simulator import SimProvider, Simulator
from modelmesh_healthd.state import SystemState
from modelmesh_healthd.state.mesh import Mesh
from modelmesh_healthd.state.provider import ProviderState
from modelmesh_healthd.storage import Envelope, open_store, read_state
from modelmesh_healthd.storage.coordination import (
    PROVIDER_SHARD,
    ShardRows,
    provider_shard,
)
from modelmesh_healthd.storage.coordination_backends import coordination_for
from modelmesh_healthd.storage.rendezvous import owner_of
from modelmesh_healthd.storage.row_encode import make_batch, row_for

KEY = "sk-bench-replicas"
MARK = 0.123456  # the stale writer's availability score: found in the store = accepted


def config_text(base_url: str, store: str, count: int, interval: float) -> str:
    lines = [
        "daemon: {instance: bench, summary_interval: 0, drain_timeout: 1s, concurrency: 64,",
        "         network_guard: {enabled: false}}",
        f"schedule: {{interval: {interval}s, fast_interval: 0.2s, jitter: 0, timeout: 2s}}",
        "http: {trust_env: false}",
        f'storage: {{url: "{store}", sync_policy: immediate}}',
        "admin: {enabled: false}",
        "providers:",
    ]
    lines += [
        f'  p{i:04d}: {{kind: openai, base_url: "{base_url}/p{i:04d}/v1", api_key: {KEY}}}'
        for i in range(count)
    ]
    return "\n".join(lines) + "\n"


class Fleet:
    """Replica processes on one configuration."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "modelmesh_healthd",
            "run",
            "-c",
            str(self.config),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"},
        )
        self.procs.append(proc)
        return proc

    async def close(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()


class Recorder:
    """Timestamps every request the simulator counts (one per probe of an OpenAI provider)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.times: dict[str, list[float]] = defaultdict(list)
        self._last = sim.counts()
        self._task = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            now = time.monotonic()
            for name, count in self.sim.counts().items():
                before = self._last.get(name, 0)
                self.times[name].extend([now] * max(0, count - before))
                self._last[name] = count
            await asyncio.sleep(0.02)

    def first_after(self, name: str, moment: float) -> float | None:
        return next((t for t in self.times[name] if t >= moment), None)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def owners(url: str) -> dict[str, str]:
    async with open_store(url) as store:
        coordination = coordination_for(store)
        assert coordination is not None
        held = await coordination.owners()
    return {s[len(PROVIDER_SHARD) :]: m for s, m in held.items() if s.startswith(PROVIDER_SHARD)}


async def settled(url: str, count: int, members: int, within: float = 120.0) -> dict[str, str]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        held = await owners(url)
        live = set(held.values())
        if (
            len(held) == count
            and len(live) == members
            and all(owner_of(provider_shard(p), live) == m for p, m in held.items())
        ):
            return held
        await asyncio.sleep(0.2)
    raise SystemExit(f"leases did not settle on {members} replicas within {within:.0f} s")


async def steady_rate(
    recorder: Recorder, names: list[str], interval: float, intervals: int
) -> tuple[float, int, int, int]:
    """Probe rate, close pairs, extra and missed probes over `intervals` of steady state.

    A close pair (two probes of one provider less than half an interval apart) is either a
    probe twice in one interval or a late probe followed by an on-time one: the schedule is
    drift-free, so a probe that started late is followed by one at its usual time. The extra
    probes tell them apart: each provider's own window starts at its first probe and spans
    `intervals` slots (ending half an interval before the next slot), so with every probe less
    than half an interval late it holds exactly `intervals` probes; a probe more is a probe
    twice in one interval, one fewer a probe more than half an interval late.
    """
    start = time.monotonic()
    await asyncio.sleep((intervals + 2) * interval)
    end = time.monotonic()
    total = close = extra = missed = 0
    for name in names:
        times = [t for t in recorder.times[name] if start <= t < start + intervals * interval]
        total += len(times)
        close += sum(1 for a, b in itertools.pairwise(times) if b - a < 0.5 * interval)
        own = [t for t in recorder.times[name] if start <= t < end]
        if own:
            first = own[0]
            slots = [t for t in own if t < first + (intervals - 0.5) * interval]
            extra += max(0, len(slots) - intervals)
            missed += max(0, intervals - len(slots))
    return total / (len(names) * intervals), close, extra, missed


async def takeovers(
    url: str, fleet: Fleet, recorder: Recorder, count: int, *, kills: int, ttl: float
) -> list[float]:
    times = []
    for k in range(kills):
        held = await settled(url, count, 3)
        victim = fleet.procs[-3 + (k % 3)] if len(fleet.procs) >= 3 else fleet.procs[0]
        marker = f":{victim.pid}:"
        orphans = [p for p, m in held.items() if marker in m]
        killed = time.monotonic()
        victim.kill()
        await victim.wait()
        fleet.procs.remove(victim)
        deadline = killed + 4 * ttl + 10
        while time.monotonic() < deadline:
            if all(recorder.first_after(p, killed) is not None for p in orphans):
                break
            await asyncio.sleep(0.05)
        late = [(recorder.first_after(p, killed) or float("inf")) - killed for p in orphans]
        times.append(max(late, default=0.0))
        print(
            f"  kill {k + 1}/{kills}: {len(orphans)} providers, last resumed after "
            f"{times[-1]:.2f} s",
            file=sys.stderr,
        )
        await fleet.start()
    return times


async def stale_writes(url: str, names: list[str], attempts: int, ttl: float) -> tuple[int, int]:
    """Join as a member, take a share of leases, stall past the TTL (a paused replica), and
    write under the old tokens once the replicas have taken the share back."""
    member = f"stale-writer-{uuid.uuid4().hex[:6]}"
    shards = [provider_shard(n) for n in names]
    claimed: dict[str, int] = {}
    async with open_store(url) as store:
        coordination = coordination_for(store)
        assert coordination is not None
        deadline = time.monotonic() + 6 * ttl
        while len(claimed) < attempts and time.monotonic() < deadline:
            live = set((await coordination.heartbeat(member, ttl)).members) | {member}
            mine = [s for s in shards if owner_of(s, live) == member]
            claimed.update((await coordination.claim(member, mine, ttl)).granted)
            await asyncio.sleep(ttl / 5)
        claimed = dict(list(claimed.items())[:attempts])
        await asyncio.sleep(ttl + 0.5)  # paused past the lease: the replicas claim them back
        deadline = time.monotonic() + 4 * ttl
        while time.monotonic() < deadline:
            held = await coordination.owners()
            if all(held.get(s) not in (None, member) for s in claimed):
                break
            await asyncio.sleep(0.2)
        mesh = Mesh.build(names, {})
        batch = make_batch(Envelope(1, time.time(), member, 1, None), [], replace=False)
        for shard, token in claimed.items():
            name = shard[len(PROVIDER_SHARD) :]
            state = SystemState()
            state.providers[name] = ProviderState(availability_score=MARK)
            rows = [row_for(state, mesh, "provider", name)]
            await coordination.fenced_write(
                member, [ShardRows(shard, token, rows)], (batch.meta_data, batch.meta_checksum, 0)
            )
    stored = await read_state(url)
    accepted = 0
    if stored is not None:
        for shard in claimed:
            ps = stored.providers.get(shard[len(PROVIDER_SHARD) :])
            accepted += ps is not None and ps.availability_score == MARK
    return len(claimed), accepted


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="redis://127.0.0.1:6379/0", help="Redis or PostgreSQL")
    parser.add_argument("--providers", type=int, default=300)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--ttl", type=float, default=5.0, help="lease TTL, seconds")
    parser.add_argument("--window", type=int, default=30, help="intervals of steady state")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--stale", type=int, default=50, help="stale writes attempted")
    args = parser.parse_args()
    configure_logging("warning", "console")  # the simulator's own lines would drown the table

    tag = uuid.uuid4().hex[:8]
    sep = "&" if "?" in args.store else "?"
    if args.store.startswith("redis"):
        url = f"{args.store}{sep}prefix=bench-{tag}:&replicas=on&lease_ttl={args.ttl}"
    else:
        url = f"{args.store}{sep}schema=bench_{tag}&replicas=on&lease_ttl={args.ttl}"
    names = [f"p{i:04d}" for i in range(args.providers)]
    sims = [SimProvider(name=n, kind="openai", api_key=KEY, models=("gpt-4o",)) for n in names]
    with tempfile.TemporaryDirectory() as tmp:
        async with Simulator(sims) as sim:
            config = Path(tmp) / "healthd.yaml"
            config.write_text(config_text(sim.base_url, url, args.providers, args.interval))
            fleet = Fleet(config)
            recorder = Recorder(sim)
            try:
                for _ in range(3):
                    await fleet.start()
                await settled(url, args.providers, 3)
                await asyncio.sleep(2 * args.interval)
                rate, close, extra, missed = await steady_rate(
                    recorder, names, args.interval, args.window
                )
                kills = await takeovers(
                    url, fleet, recorder, args.providers, kills=args.kills, ttl=args.ttl
                )
                await settled(url, args.providers, 3)
                tried, accepted = await stale_writes(url, names, args.stale, args.ttl)
            finally:
                await recorder.close()
                await fleet.close()
        await _drop(url)
    bound = args.ttl + args.interval
    print(
        f"\n3 replicas, {args.providers} providers, interval {args.interval:g} s, "
        f"lease TTL {args.ttl:g} s, store {url.split('?')[0].split(':')[0]}\n"
    )
    print("| measure | value | target |")
    print("|---|---|---|")
    print(
        f"| probes per provider per interval ({args.window} intervals) | {rate:.3f} | 1.00 ± 0.01 |"
    )
    slots = args.window * args.providers
    print(f"| probes twice in one interval, steady state (of {slots:,}) | {extra} | 0 |")
    print(f"| probes over half an interval late (of {slots:,}) | {missed} | |")
    print(f"| probes under half an interval after the previous one | {close} | |")
    print(
        f"| takeover after kill -9, p50 ({len(kills)} kills) | {statistics.median(kills):.2f} s | |"
    )
    print(f"| takeover after kill -9, max | {max(kills):.2f} s | ≤ {bound:g} s (TTL + interval) |")
    print(f"| stale-token writes accepted by the store | {accepted} of {tried} | 0 |")


async def _drop(url: str) -> None:
    if url.startswith("redis"):
        import redis.asyncio as redis

        prefix = url.split("prefix=")[1].split("&", maxsplit=1)[0]
        client = redis.Redis.from_url(url.split("?", maxsplit=1)[0])
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    else:
        import psycopg

        schema = url.split("schema=")[1].split("&", maxsplit=1)[0]
        async with await psycopg.AsyncConnection.connect(
            url.split("?", maxsplit=1)[0], autocommit=True
        ) as c:
            await c.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        asyncio.run(main())
