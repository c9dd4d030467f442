"""What the replica process tests share: a large simulated fleet, replica processes, and a
probe recorder that timestamps every probe each provider receives at the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from modelmesh_healthd.simulator import SimProvider, Simulator
from modelmesh_healthd.storage import open_store
from modelmesh_healthd.storage.coordination import PROVIDER_SHARD, Coordination
from modelmesh_healthd.storage.coordination_backends import coordination_for

KEY = "sk-test-replicas-0001"


def providers(count: int) -> list[SimProvider]:
    """`count` OpenAI-style providers p000.. with one model each."""
    return [
        SimProvider(name=f"p{i:03d}", kind="openai", api_key=KEY, models=("gpt-4o",))
        for i in range(count)
    ]


def fleet_config(
    base_url: str,
    store_url: str,
    count: int,
    *,
    interval: float,
    pool_size: int = 10,
    admin_port: int | None = None,
) -> str:
    """One configuration for every replica: `count` providers, pools of `pool_size` models."""
    lines = [
        "daemon:",
        "  instance: replica",
        "  drain_timeout: 1s",
        "  summary_interval: 0",
        "  network_guard: {enabled: false}",
        "  concurrency: 64",
        "schedule:",
        f"  interval: {interval}s",
        "  fast_interval: 0.2s",
        "  down_interval: 0.3s",
        "  down_interval_max: 0.6s",
        "  jitter: 0",
        "  timeout: 2s",
        "http: {trust_env: false}",
        f'storage: {{url: "{store_url}", sync_policy: immediate}}',
        "admin: {enabled: false}"
        if admin_port is None
        else f'admin: {{listen: "127.0.0.1:{admin_port}"}}',
        "providers:",
    ]
    lines.extend(
        f'  p{i:03d}: {{kind: openai, base_url: "{base_url}/p{i:03d}/v1", api_key: {KEY}}}'
        for i in range(count)
    )
    lines.append("models:")
    lines.extend(f"  m{i:03d}: {{provider: p{i:03d}, name: gpt-4o}}" for i in range(count))
    lines.append("pools:")
    for start in range(0, count, pool_size):
        members = ", ".join(f"m{i:03d}" for i in range(start, min(count, start + pool_size)))
        lines.append(f"  pool{start // pool_size:02d}: {{models: [{members}]}}")
    return "\n".join(lines) + "\n"


class Replica:
    """`modelmesh-healthd run` as a subprocess; its JSON log lines collected."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))

    def named(self, name: str) -> list[dict[str, Any]]:
        """Events called `name`."""
        return [e for e in self.events if e.get("event") == name]

    async def wait_for(self, name: str, within: float = 30.0) -> dict[str, Any]:
        """The first event called `name`, waiting up to `within` seconds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = self.named(name)
            if found:
                return found[0]
            if self.proc.returncode is not None:
                raise AssertionError(f"replica exited {self.proc.returncode} before {name}")
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {name} within {within}s")

    def signal(self, sig: signal.Signals) -> None:
        """Send `sig` to the process."""
        self.proc.send_signal(sig)

    async def stop(self) -> int:
        """SIGTERM (after SIGCONT, in case it is stopped) and wait for the exit."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGCONT)
                self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), 30)
        await self._reader
        return code


@asynccontextmanager
async def replicas(config: Path, count: int) -> AsyncIterator[list[Replica]]:
    """Start `count` replicas on one configuration; all are killed at exit."""
    started: list[Replica] = []
    try:
        for _ in range(count):
            started.append(await start_replica(config))  # noqa: PERF401 - one at a time
        yield started
    finally:
        for replica in started:
            if replica.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    replica.proc.send_signal(signal.SIGCONT)
                    replica.proc.kill()
                await replica.proc.wait()


async def start_replica(config: Path) -> Replica:
    """One more replica process on `config`."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "modelmesh_healthd",
        "run",
        "-c",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=environ,
    )
    return Replica(proc)


class ProbeRecorder:
    """Polls the simulator's request counters and timestamps every increase (one per probe)."""

    def __init__(self, sim: Simulator, every: float = 0.02) -> None:
        self.sim = sim
        self.every = every
        self.times: dict[str, list[float]] = defaultdict(list)
        self._last: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ProbeRecorder:
        self._last = self.sim.counts()
        self._task = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _poll(self) -> None:
        while True:
            now = time.monotonic()
            for name, count in self.sim.counts().items():
                before = self._last.get(name, 0)
                if count > before:
                    self.times[name].extend([now] * (count - before))
                self._last[name] = count
            await asyncio.sleep(self.every)

    def probes_between(self, start: float, end: float) -> dict[str, int]:
        """Probes per provider with a timestamp in [start, end)."""
        return {
            name: sum(1 for t in self.sim_times(name) if start <= t < end)
            for name in self.sim.providers
        }

    def sim_times(self, name: str) -> list[float]:
        """Every probe time of `name` so far."""
        return self.times.get(name, [])

    def first_after(self, name: str, moment: float) -> float | None:
        """The first probe of `name` at or after `moment`."""
        return next((t for t in self.sim_times(name) if t >= moment), None)


@asynccontextmanager
async def coordination_of(url: str) -> AsyncIterator[Coordination]:
    """The leases and votes of the store at `url`, opened for the block and prepared as a
    replica prepares them (idempotent: a reader may prepare too)."""
    async with open_store(url) as store:
        coordination = coordination_for(store)
        assert coordination is not None
        await coordination.prepare(0)
        yield coordination


async def lease_owners(url: str) -> dict[str, str]:
    """Provider -> member holding its lease now, read from the store's lease table."""
    async with coordination_of(url) as coordination:
        owners = await coordination.owners()
    return {s[len(PROVIDER_SHARD) :]: m for s, m in owners.items() if s.startswith(PROVIDER_SHARD)}


def member_of(replica: Replica, owners: dict[str, str]) -> str | None:
    """The member id of `replica` among the lease owners (member ids carry the pid)."""
    marker = f":{replica.proc.pid}:"
    return next((m for m in set(owners.values()) if marker in m), None)


async def settled(url: str, providers: int, members: int, within: float = 120.0) -> dict[str, str]:
    """Wait until every provider's lease is held by its rendezvous owner among `members`."""
    from modelmesh_healthd.storage.coordination import provider_shard
    from modelmesh_healthd.storage.rendezvous import owner_of

    deadline = time.monotonic() + within
    owners: dict[str, str] = {}
    while time.monotonic() < deadline:
        owners = await lease_owners(url)
        live = set(owners.values())
        if (
            len(owners) == providers
            and len(live) == members
            and all(owner_of(provider_shard(p), live) == m for p, m in owners.items())
        ):
            return owners
        await asyncio.sleep(0.2)
    raise AssertionError(
        f"leases did not settle: {len(owners)} of {providers} held by "
        f"{len(set(owners.values()))} members, wanted {members}"
    )


def shortest_gap(times: list[float]) -> float:
    """The shortest time between two consecutive probes (inf with fewer than two)."""
    return min((b - a for a, b in itertools.pairwise(times)), default=float("inf"))


def probes_in_own_window(times: list[float], start: float, intervals: int, every: float) -> int:
    """How many probes fall in a provider's own window of `intervals` slots.

    The window starts at its first probe at or after `start` and ends half an interval before
    its slot number `intervals`. The schedule is drift-free, so with every probe less than half
    an interval late (a busy host delays probes, it does not add any) the window holds exactly
    `intervals` probes; one more is a probe twice in one interval, wherever it falls.
    """
    own = [t for t in times if t >= start]
    if not own:
        return 0
    return sum(1 for t in own if t < own[0] + (intervals - 0.5) * every)


async def until(
    check: Callable[[], Awaitable[Any]], what: str, within: float = 60.0, every: float = 0.1
) -> Any:
    """Poll `check` until it returns something true, and return that; fail naming `what`.

    Tests wait on conditions with generous deadlines instead of sleeping a fixed time: a busy
    host (other test runs) makes everything slower, and a fixed sleep then checks too early.
    """
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within:g} s")
        await asyncio.sleep(every)
