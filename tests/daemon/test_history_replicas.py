"""HistoryRecorder under replicas: one writer per subject (the provider's lease holder), a new
owner carries on from the stored history, a hand-over saves first, a lost lease writes nothing.

Two recorders share one in-process store; `Owners` plays the leases and a Clock the time."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from modelmesh_healthd.daemon import history
from modelmesh_healthd.daemon.history import HistoryRecorder, model_subject, provider_subject
from modelmesh_healthd.state import DEFAULT_POLICY, Mesh, SystemState, initial_state
from modelmesh_healthd.state.history import MAINTENANCE, UNKNOWN, UP, History
from modelmesh_healthd.storage.history_store import (
    HistoryLoad,
    HistoryStore,
    open_history_store,
    read_histories,
)

MESH = Mesh.build(["p", "q"], {"p.m": "p", "q.m": "q"}, {"pool": ["p.m", "q.m"]})
T0 = 1_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class Replica:
    """One replica's recorder, its own copy of the state, and what it holds for maintenance."""

    name: str
    recorder: HistoryRecorder
    state: SystemState
    held: set[str] = field(default_factory=set)


def owned_by(owners: dict[str, str], me: str) -> Callable[[str], bool]:
    return lambda provider: owners.get(provider) == me


def state_of(replica: Replica) -> Callable[[], SystemState]:
    return lambda: replica.state


@asynccontextmanager
async def two_replicas(
    owners: dict[str, str],
) -> AsyncIterator[tuple[Replica, Replica, Clock, str]]:
    url = f"memory://history-replicas-{uuid.uuid4().hex}"
    clock = Clock()
    replicas = []
    for name in ("A", "B"):
        state = initial_state(MESH)
        for ps in state.providers.values():
            ps.last_probe = 1.0
        held: set[str] = set()
        recorder = HistoryRecorder(url, maintenance=held.__contains__, flush_every=3600)
        recorder.share(owned_by(owners, name))
        replica = Replica(name, recorder, state, held)
        await recorder.start(state_of(replica), lambda: MESH, lambda: DEFAULT_POLICY, clock)
        await recorder.sync()  # adopts what it owns: records it from now on
        assert await recorder.flush()
        replicas.append(replica)
    a, b = replicas
    try:
        yield a, b, clock, url
    finally:
        for r in (a, b):
            await r.recorder.stop(save=False)


async def stored(url: str, subject: str) -> list[tuple[float, str]]:
    return list((await read_histories(url)).histories[subject].entries)


async def test_each_replica_writes_only_the_subjects_of_the_providers_it_owns() -> None:
    async with two_replicas({"p": "A", "q": "B"}) as (a, b, clock, url):
        clock.now = T0 + 10
        a.held.add("q")  # A's view of q says maintenance: A must not write it
        b.held.add("p")
        for r in (a, b):
            r.recorder.refresh()
            assert await r.recorder.flush()
        assert await stored(url, provider_subject("p")) == [(T0, UP)]
        assert await stored(url, provider_subject("q")) == [(T0, UP)]
        assert await stored(url, model_subject("q.m")) == [(T0, UP)]


async def test_a_replica_stopping_saves_its_own_subjects_and_leaves_the_others_alone() -> None:
    async with two_replicas({"p": "A", "q": "B"}) as (a, b, clock, url):
        clock.now = T0 + 10
        a.held.add("p")
        a.recorder.refresh()
        assert await a.recorder.flush()
        clock.now = T0 + 20
        await b.recorder.stop()  # B's copy of p is stale: it must not be written over A's
        assert await stored(url, provider_subject("p")) == [(T0, UP), (T0 + 10, MAINTENANCE)]
        assert await stored(url, provider_subject("q")) == [(T0, UP), (T0 + 20, UNKNOWN)]


async def test_a_new_owner_carries_on_from_the_stored_history() -> None:
    owners = {"p": "A", "q": "B"}
    async with two_replicas(owners) as (a, b, clock, url):
        clock.now = T0 + 10
        b.held.add("q")
        b.recorder.refresh()
        clock.now = T0 + 20
        await b.recorder.stop()  # leaves: q's lease goes to A
        owners["q"] = "A"
        clock.now = T0 + 30
        a.recorder.refresh()  # A's first sight of q: its stored history is read first
        await a.recorder.sync()
        assert await a.recorder.flush()
        assert await stored(url, provider_subject("q")) == [
            (T0, UP),
            (T0 + 10, MAINTENANCE),
            (T0 + 20, UNKNOWN),
            (T0 + 30, UP),
        ]


async def test_a_hand_over_saves_what_the_old_owner_had_not_saved_yet() -> None:
    owners = {"p": "A", "q": "B"}
    async with two_replicas(owners) as (a, b, clock, url):
        clock.now = T0 + 10
        a.held.add("p")
        a.recorder.refresh()  # recorded, not saved
        await a.recorder.hand_over(["p"])
        owners["p"] = "B"
        b.held.add("p")  # B sees the same maintenance
        clock.now = T0 + 20
        await b.recorder.sync()
        b.held.discard("p")
        clock.now = T0 + 30
        b.recorder.refresh()
        assert await b.recorder.flush()
        assert await a.recorder.flush()  # nothing of p's left to write
        assert await stored(url, provider_subject("p")) == [
            (T0, UP),
            (T0 + 10, MAINTENANCE),
            (T0 + 30, UP),
        ]


async def test_a_replica_that_lost_a_lease_does_not_write_behind_the_new_owner() -> None:
    owners = {"p": "A", "q": "B"}
    async with two_replicas(owners) as (a, b, clock, url):
        clock.now = T0 + 10
        a.held.add("p")
        a.recorder.refresh()  # recorded, not saved when the lease expires
        owners["p"] = "B"  # expired: no hand-over
        clock.now = T0 + 20
        b.held.add("p")
        b.recorder.refresh()
        await b.recorder.sync()
        assert await b.recorder.flush()
        assert await a.recorder.flush()
        await a.recorder.stop()
        assert await stored(url, provider_subject("p")) == [(T0, UP), (T0 + 20, MAINTENANCE)]


async def test_a_replica_shows_the_other_replicas_subjects_as_stored() -> None:
    async with two_replicas({"p": "A", "q": "B"}) as (a, b, clock, _):
        clock.now = T0 + 10
        b.held.add("q")
        b.recorder.refresh()
        assert await b.recorder.flush()
        await a.recorder.sync(others=True)
        assert a.recorder.histories[provider_subject("q")].current == MAINTENANCE
        assert a.recorder.histories[model_subject("q.m")].current == MAINTENANCE


class SwallowingLoad:
    """A history store whose next load, once armed, waits until cancelled and then returns all
    the same: what a Redis call does when asyncio.wait_for (Python 3.11) swallows the
    cancellation that arrived as the command finished."""

    def __init__(self, inner: HistoryStore) -> None:
        self.inner = inner
        self.url = inner.url
        self.armed = False
        self.in_load = asyncio.Event()
        self.swallowed = 0

    async def __aenter__(self) -> SwallowingLoad:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.inner.__aexit__(*exc)

    async def load(self) -> HistoryLoad:
        if self.armed:
            self.armed = False
            self.in_load.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.swallowed += 1
        return await self.inner.load()

    async def save(self, histories: Mapping[str, History]) -> None:
        await self.inner.save(histories)


async def test_a_stop_ends_a_saving_loop_that_carried_on_after_its_cancellation_and_saves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stores: list[SwallowingLoad] = []

    def opened(url: str) -> SwallowingLoad:
        stores.append(SwallowingLoad(open_history_store(url)))
        return stores[-1]

    monkeypatch.setattr(history, "open_history_store", opened)
    owners = {"p": "A"}
    async with two_replicas(owners) as (a, _, clock, url):
        store = stores[0]
        store.armed = True
        owners["q"] = "A"
        a.recorder.refresh(["q"])  # gained: A's saving loop reads its stored history first
        await asyncio.wait_for(store.in_load.wait(), 30.0)
        clock.now = T0 + 10
        stop = asyncio.create_task(a.recorder.stop())
        done, _ = await asyncio.wait({stop}, timeout=30.0)  # for ever before the fix
        assert stop in done, "the stop waited for a saving loop that never ended"
        assert store.swallowed == 1
        assert await stored(url, provider_subject("p")) == [(T0, UP), (T0 + 10, UNKNOWN)]
