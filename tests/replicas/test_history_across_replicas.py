"""Availability history under replicas: every subject has one writer, its provider's lease
holder, so two replicas sharing Redis or PostgreSQL keep every transition either recorded.

Two real daemons run in this process on one store: A alone through an outage, then B joins and
takes its share (carrying on from A's records), both record a second outage of their own
providers, B leaves (A takes its providers back from B's records), A stops. The stored history
must then hold every entry each replica recorded."""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from collections.abc import Callable
from pathlib import Path

from replica_support import fleet_config, providers
from structlog.testing import capture_logs

from modelmesh_healthd.config import load_config
from modelmesh_healthd.daemon.history import model_subject, provider_subject
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.state.history import DEGRADED, DOWN, UNKNOWN, UP
from modelmesh_healthd.storage.coordination import provider_shard
from modelmesh_healthd.storage.history_store import read_histories
from modelmesh_healthd.storage.rendezvous import owner_of

# Long enough that no lease expires beside the parallel suite on two busy cores (rounds of a
# loaded PostgreSQL took over a second at 1.5): an expired lease drops its unsaved history by
# design (see daemon/history.py), which is not what this test is about.
TTL = 6.0
COUNT = 6
NAMES = [f"p{i:03d}" for i in range(COUNT)]
AVAILABLE = (UP, DEGRADED)  # a probe slowed by a busy host may make a provider degraded


def subjects(name: str) -> list[str]:
    return [provider_subject(name), model_subject(f"m{name[1:]}")]


class Replica:
    def __init__(self, config: Path, started: list[Replica]) -> None:
        self.daemon = Daemon(load_config(config, environ={}), environ={})
        self.task = asyncio.create_task(self.daemon.run())
        started.append(self)

    def owns(self, name: str) -> bool:
        coordinator = self.daemon.coordinator
        return self.daemon.ready and coordinator is not None and coordinator.owns_provider(name)

    def current(self, subject: str) -> str | None:
        history = self.daemon.history.histories.get(subject)
        return None if history is None else history.current

    def entries(self, subject: str) -> list[tuple[float, str]]:
        return list(self.daemon.history.histories[subject].entries)

    async def stop(self) -> int:
        self.daemon.request_stop("test")
        return await asyncio.wait_for(self.task, 30.0)


async def until(found: Callable[[], bool], what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not found():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def split_by_rendezvous(a: Replica, b: Replica) -> bool:
    """Every provider is owned by exactly its rendezvous owner among the two replicas."""
    if a.daemon.coordinator is None or b.daemon.coordinator is None or not b.daemon.ready:
        return False
    by_member = {a.daemon.coordinator.member: a, b.daemon.coordinator.member: b}
    for name in NAMES:
        chosen = by_member.get(owner_of(provider_shard(name), by_member) or "")
        other = b if chosen is a else a
        if chosen is None or not chosen.owns(name) or other.owns(name):
            return False
    return True


def owner(replicas: list[Replica], name: str) -> Replica | None:
    return next((r for r in replicas if r.owns(name)), None)


def recorded_by_owner(replicas: list[Replica], states: tuple[str, ...]) -> bool:
    """Every provider and model is in one of `states` in its owner's history."""
    for name in NAMES:
        r = owner(replicas, name)
        if r is None or any(r.current(s) not in states for s in subjects(name)):
            return False
    return True


async def outage(sim: Simulator, replicas: list[Replica]) -> None:
    """Every provider goes down and comes back; each owner records both."""
    for name in NAMES:
        sim.set_behaviour(name, "key_revoked")
    await until(lambda: recorded_by_owner(replicas, (DOWN,)), "the outage recorded")
    for name in NAMES:
        sim.set_behaviour(name, "healthy")
    await until(lambda: recorded_by_owner(replicas, AVAILABLE), "the recovery recorded")


async def test_two_replicas_keep_every_transition_in_the_shared_history(
    shared_url: str, tmp_path: Path
) -> None:
    url = f"{shared_url}&replicas=on&lease_ttl={TTL}"
    async with Simulator(providers(COUNT)) as sim:
        config = tmp_path / "healthd.yaml"
        config.write_text(fleet_config(sim.base_url, url, COUNT, interval=0.3))
        started: list[Replica] = []
        with capture_logs():
            try:
                a = Replica(config, started)
                await until(lambda: recorded_by_owner([a], AVAILABLE), "A recording every provider")
                await outage(sim, [a])
                alone = {s: a.entries(s) for name in NAMES for s in subjects(name)}

                for _ in range(5):  # B's member id is random: on the rare draw owning none, again
                    b = Replica(config, started)
                    await until(functools.partial(split_by_rendezvous, a, b), "B taking its share")
                    if any(b.owns(n) for n in NAMES):
                        break
                    assert await b.stop() == 0
                both = [a, b]
                await until(lambda: recorded_by_owner(both, AVAILABLE), "B recording what it took")
                b_names = [n for n in NAMES if b.owns(n)]
                await outage(sim, both)
                assert await b.stop() == 0
                by_b = {s: b.entries(s) for name in b_names for s in subjects(name)}

                await until(
                    lambda: all(
                        a.owns(n) and by_b[s][-1] in a.entries(s) and a.current(s) in AVAILABLE
                        for n in b_names
                        for s in subjects(n)
                    ),
                    "A carrying on from B's records of B's providers",
                )
                assert await a.stop() == 0
                by_a = {s: a.entries(s) for name in NAMES for s in subjects(name)}
            finally:
                for replica in started:  # a failed run leaves no daemon behind
                    if not replica.task.done():
                        await replica.stop()

    stored = {s: list(h.entries) for s, h in (await read_histories(url)).histories.items()}
    assert set(stored) == {s for name in NAMES for s in subjects(name)}
    assert stored == by_a  # A wrote last, each subject carried on from what was stored
    for subject, entries in by_b.items():
        # B took over from A's records, and nothing B recorded was overwritten afterwards.
        assert set(alone[subject]) <= set(entries), subject
        assert set(entries) <= set(stored[subject]), subject
    for subject, entries in stored.items():
        states = [state for _, state in entries]
        outages = sum(1 for x, y in itertools.pairwise(states) if x in AVAILABLE and y == DOWN)
        assert outages == 2, (subject, states)
        assert states[-1] == UNKNOWN
