"""Replicas as real processes on real Redis and PostgreSQL, counted at the simulator."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

from replica_support import (
    ProbeRecorder,
    Replica,
    fleet_config,
    lease_owners,
    member_of,
    probes_in_own_window,
    providers,
    replicas,
    settled,
    start_replica,
    until,
)

from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.state import SystemState
from modelmesh_healthd.storage import read_state

TTL = 5.0
# The paused replica's test waits out a TTL (the takeover) and then watches for two more, so it
# runs on the shorter TTL the quorum and canary tests run on beside the same load. Its leases
# are renewed every second and last 3: a round would have to stall 2 s to lose one, and a lost
# lease is taken over from the store like the paused one's, which the test asserts is safe.
SHORT_TTL = 3.0
INTERVAL = 1.0
# For the tests that count leases and read the store, not probes: each probe of a healthy
# provider costs its replica CPU, and they assert nothing about how often it is probed.
QUIET_INTERVAL = 5.0


def replicated(url: str, ttl: float = TTL) -> str:
    return f"{url}&replicas=on&lease_ttl={ttl}"


async def test_three_replicas_probe_each_of_300_providers_once_per_interval(
    shared_url: str, tmp_path: Path
) -> None:
    url = replicated(shared_url)
    async with Simulator(providers(300)) as sim:
        config = tmp_path / "healthd.yaml"
        config.write_text(fleet_config(sim.base_url, url, 300, interval=INTERVAL))
        async with replicas(config, 3), ProbeRecorder(sim) as recorder:
            owners = await settled(url, 300, 3)
            await asyncio.sleep(2 * INTERVAL)  # past the first probes after the hand-outs
            start = time.monotonic()
            # 8 intervals observed in each provider's own window, which can start up to an
            # interval after `start` (a window, not a wait for something to happen).
            await asyncio.sleep(10 * INTERVAL)
            assert await lease_owners(url) == owners  # no takeover in the window
    counts = {
        name: probes_in_own_window(recorder.sim_times(name), start, 8, INTERVAL)
        for name in sim.providers
    }
    # No provider probed twice in one interval (a ninth probe in its window), and none skipped
    # more than one interval. A close pair of probes alone proves nothing: a probe started late
    # on a busy host is followed by one at its usual time.
    assert max(counts.values()) <= 8, "a provider was probed twice in one interval"
    assert min(counts.values()) >= 7, sorted(counts.values())[:5]


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
            before = await until(
                lambda: _down_with_streak(url, revoked, {}),
                "the revoked providers down, with a failure streak, in the store",
            )
            killed_at = time.monotonic()
            running[0].signal(signal.SIGKILL)
            await until(
                lambda: _all_probed_after(recorder, orphans, killed_at),
                "every orphaned provider probed again",
            )
            after = await until(
                lambda: _down_with_streak(url, revoked, before),
                "the revoked providers' streaks carried on in the store",
            )
            survivors = await until(
                lambda: _without(url, victim), "the killed replica's leases gone"
            )
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
    url = replicated(shared_url, SHORT_TTL)
    # 30 providers: about 10 per replica, enough for the paused one to own several.
    async with Simulator(providers(30)) as sim:
        config = tmp_path / "healthd.yaml"
        config.write_text(fleet_config(sim.base_url, url, 30, interval=INTERVAL))
        async with replicas(config, 3) as running:
            owners = await settled(url, 30, 3)
            paused = member_of(running[0], owners)
            theirs = sorted(p for p, m in owners.items() if m == paused)
            assert theirs, "the paused replica owns no provider"
            running[0].signal(signal.SIGSTOP)
            for name in theirs:  # the paused replica's view of these stays "healthy"
                sim.set_behaviour(name, "key_revoked")
            taken = await until(
                lambda: _without(url, paused, theirs), "the paused replica's leases taken over"
            )
            await until(
                lambda: _down_with_streak(url, theirs, {}),
                "its providers down in the store, written by their new owners",
            )
            running[0].signal(signal.SIGCONT)
            # Watched for 2 TTL, and on until the resumed replica has its share back and has
            # probed and written it for 2 intervals: whatever it does on waking (probes that
            # were due, the round that finds its leases gone, its return by rendezvous and the
            # first writes after it) falls inside the window, however slow the host.
            streaks: dict[str, list[int]] = {name: [] for name in theirs}
            reasons: set[str | None] = set()
            deadline = time.monotonic() + 2 * SHORT_TTL
            returned: float | None = None
            while returned is None or time.monotonic() < max(deadline, returned + 2 * INTERVAL):
                state = await read_state(url)
                assert state is not None
                for name in theirs:
                    streaks[name].append(state.providers[name].consecutive_failures)
                    reasons.add(state.providers[name].down_reason)
                if returned is None and await _holds(url, paused, theirs):
                    returned = time.monotonic()
                assert time.monotonic() < deadline + 60, "the resumed replica never returned"
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
        config.write_text(fleet_config(sim.base_url, url, 300, interval=QUIET_INTERVAL))
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
        config.write_text(fleet_config(sim.base_url, url, 30, interval=2.0))
        async with replicas(config, 3) as running:
            owners = await settled(url, 30, 3)
            pool = [f"p{i:03d}" for i in range(10)]
            assert len({owners[p] for p in pool}) > 1  # the pool spans replicas
            for name in pool:
                sim.set_behaviour(name, "key_revoked")
            await until(lambda: _named_now(running, "pool.empty"), "pool.empty announced")
            # The owner announced from its view; each provider's owner writes its own row.
            emptied = await until(lambda: _pool_empty(url), "the pool empty in the store")
            for name in pool:
                sim.set_behaviour(name, "healthy")
            await until(lambda: _named_now(running, "pool.restored"), "pool.restored announced")
            # Time for a second announcement, if one were coming: a replica settles the pools
            # in every round (a third of a TTL, kept on a busy host) and after each of its
            # probes (every 2 s a provider), so a TTL holds three rounds of every replica and
            # two probes of every provider.
            await asyncio.sleep(TTL)
            empty = _named(running, "pool.empty")
            restored = _named(running, "pool.restored")
    assert [e["pool"] for e in empty] == ["pool00"]
    assert [e["pool"] for e in restored] == ["pool00"]
    assert emptied is not None
    assert emptied.pools["pool00"].active_models == set()
    assert "pool01" not in {e["pool"] for e in empty}


def _named(running: list[Replica], name: str) -> list[dict[str, Any]]:
    return [e for replica in running for e in replica.named(name)]


async def _named_now(running: list[Replica], name: str) -> list[dict[str, Any]]:
    return _named(running, name)


async def _pool_empty(url: str) -> SystemState | None:
    state = await read_state(url)
    return state if state is not None and not state.pools["pool00"].active_models else None


async def _down_with_streak(
    url: str, names: list[str], before: SystemState | dict[str, object]
) -> SystemState | None:
    """The stored state once every one of `names` is down for its revoked key with a failure
    streak (longer than in `before`, when that is a state)."""
    state = await read_state(url)
    if state is None:
        return None
    for name in names:
        ps = state.providers[name]
        if ps.down_reason != "auth_failure" or ps.consecutive_failures < 1:
            return None
        if (
            isinstance(before, SystemState)
            and ps.consecutive_failures <= before.providers[name].consecutive_failures
        ):
            return None
    return state


async def _all_probed_after(recorder: ProbeRecorder, names: list[str], moment: float) -> bool:
    return all(recorder.first_after(name, moment) is not None for name in names)


async def _holds(url: str, member: str | None, names: list[str]) -> bool:
    """Whether `member` holds the leases of all of `names`."""
    owners = await lease_owners(url)
    return all(owners.get(name) == member for name in names)


async def _without(
    url: str, member: str | None, names: list[str] | None = None
) -> dict[str, str] | None:
    """The lease owners once `member` holds none of `names` (all providers when None)."""
    owners = await lease_owners(url)
    wanted = owners if names is None else names
    if any(name not in owners or owners[name] == member for name in wanted):
        return None
    return owners
