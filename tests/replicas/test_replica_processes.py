"""Replicas as real processes on real Redis and PostgreSQL, counted at the simulator."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from replica_support import (
    ProbeRecorder,
    fleet_config,
    lease_owners,
    member_of,
    providers,
    replicas,
    settled,
    shortest_gap,
    start_replica,
)

from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.storage import read_state

TTL = 5.0
INTERVAL = 1.0


def replicated(url: str) -> str:
    return f"{url}&replicas=on&lease_ttl={TTL}"


async def test_three_replicas_probe_each_of_300_providers_once_per_interval(
    shared_url: str, tmp_path: Path
) -> None:
    url = replicated(shared_url)
    async with Simulator(providers(300)) as sim:
        config = tmp_path / "healthd.yaml"
        config.write_text(fleet_config(sim.base_url, url, 300, interval=INTERVAL))
        async with replicas(config, 3), ProbeRecorder(sim) as recorder:
            owners = await settled(url, 300, 3)
            await asyncio.sleep(2 * INTERVAL)
            start = time.monotonic()
            await asyncio.sleep(8 * INTERVAL)
            end = time.monotonic()
            counts = recorder.probes_between(start, end)
            assert await lease_owners(url) == owners  # no takeover in the window
    assert all(7 <= n <= 9 for n in counts.values()), sorted(counts.values())[:5]
    gaps = {
        name: shortest_gap([t for t in recorder.sim_times(name) if start <= t < end])
        for name in sim.providers
    }
    assert min(gaps.values()) >= 0.5 * INTERVAL, "a provider was probed twice in one interval"


async def test_a_killed_replicas_providers_resume_within_one_ttl_from_the_stored_state(
    shared_url: str, tmp_path: Path
) -> None:
    url = replicated(shared_url)
    async with Simulator(providers(300)) as sim:
        config = tmp_path / "healthd.yaml"
        config.write_text(fleet_config(sim.base_url, url, 300, interval=INTERVAL))
        async with replicas(config, 3) as running, ProbeRecorder(sim) as recorder:
            owners = await settled(url, 300, 3)
            victim = member_of(running[0], owners)
            orphans = sorted(p for p, m in owners.items() if m == victim)
            revoked = orphans[:5]
            for name in revoked:
                sim.set_behaviour(name, "key_revoked")
            await asyncio.sleep(3 * INTERVAL)  # down, with a failure streak, in the store
            before = await read_state(url)
            assert before is not None
            killed_at = time.monotonic()
            running[0].signal(signal.SIGKILL)
            await asyncio.sleep(TTL + 3 * INTERVAL)
            after = await read_state(url)
            survivors = await lease_owners(url)
    assert after is not None
    late = {
        name: (recorder.first_after(name, killed_at) or float("inf")) - killed_at
        for name in orphans
    }
    assert max(late.values()) <= TTL + INTERVAL, sorted(late.values())[-3:]
    assert victim not in survivors.values()
    for name in revoked:
        was, now = before.providers[name], after.providers[name]
        assert now.down_reason == was.down_reason == "auth_failure"
        assert now.consecutive_failures > was.consecutive_failures  # carried on, not reset
        assert now.availability_score <= was.availability_score


async def test_a_replica_paused_past_its_ttl_never_overwrites_its_successor(
    shared_url: str, tmp_path: Path
) -> None:
    url = replicated(shared_url)
    async with Simulator(providers(90)) as sim:
        config = tmp_path / "healthd.yaml"
        config.write_text(fleet_config(sim.base_url, url, 90, interval=INTERVAL))
        async with replicas(config, 3) as running:
            owners = await settled(url, 90, 3)
            paused = member_of(running[0], owners)
            theirs = sorted(p for p, m in owners.items() if m == paused)
            running[0].signal(signal.SIGSTOP)
            for name in theirs:  # the paused replica's view of these stays "healthy"
                sim.set_behaviour(name, "key_revoked")
            await asyncio.sleep(TTL + 3 * INTERVAL)
            taken = await lease_owners(url)
            running[0].signal(signal.SIGCONT)
            streaks: dict[str, list[int]] = {name: [] for name in theirs}
            reasons: set[str | None] = set()
            deadline = time.monotonic() + 2 * TTL
            while time.monotonic() < deadline:
                state = await read_state(url)
                assert state is not None
                for name in theirs:
                    streaks[name].append(state.providers[name].consecutive_failures)
                    reasons.add(state.providers[name].down_reason)
                await asyncio.sleep(0.1)
    assert all(taken[name] != paused for name in theirs)
    assert reasons == {"auth_failure"}
    for name, streak in streaks.items():
        assert streak == sorted(streak), f"{name}'s failure streak went back: {streak}"


async def test_a_joining_replica_takes_over_at_most_its_share(
    shared_url: str, tmp_path: Path
) -> None:
    url = replicated(shared_url)
    async with Simulator(providers(300)) as sim:
        config = tmp_path / "healthd.yaml"
        config.write_text(fleet_config(sim.base_url, url, 300, interval=INTERVAL))
        async with replicas(config, 3) as running:
            before = await settled(url, 300, 3)
            running.append(await start_replica(config))
            after = await settled(url, 300, 4)
            newcomer = member_of(running[-1], after)
    moved = [p for p in before if before[p] != after[p]]
    assert moved
    assert all(after[p] == newcomer for p in moved)
    assert len(moved) <= 300 / 4 + 25


async def test_a_pool_across_replicas_is_announced_empty_and_restored_once(
    shared_url: str, tmp_path: Path
) -> None:
    url = replicated(shared_url)
    async with Simulator(providers(30)) as sim:
        config = tmp_path / "healthd.yaml"
        config.write_text(fleet_config(sim.base_url, url, 30, interval=0.5))
        async with replicas(config, 3) as running:
            owners = await settled(url, 30, 3)
            pool = [f"p{i:03d}" for i in range(10)]
            assert len({owners[p] for p in pool}) > 1  # the pool spans replicas
            for name in pool:
                sim.set_behaviour(name, "key_revoked")
            await _until(lambda: _named(running, "pool.empty"), 15.0)
            # The owner announced from its view; each provider's owner writes its own row.
            for _ in range(100):
                emptied = await read_state(url)
                if emptied is not None and not emptied.pools["pool00"].active_models:
                    break
                await asyncio.sleep(0.1)
            for name in pool:
                sim.set_behaviour(name, "healthy")
            await _until(lambda: _named(running, "pool.restored"), 15.0)
            await asyncio.sleep(2 * TTL)  # time for a second announcement, if one were coming
            empty = _named(running, "pool.empty")
            restored = _named(running, "pool.restored")
    assert [e["pool"] for e in empty] == ["pool00"]
    assert [e["pool"] for e in restored] == ["pool00"]
    assert emptied is not None
    assert emptied.pools["pool00"].active_models == set()
    assert "pool01" not in {e["pool"] for e in empty}


def _named(running: list, name: str) -> list[dict]:  # type: ignore[type-arg]
    return [e for replica in running for e in replica.named(name)]


async def _until(check: object, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")
