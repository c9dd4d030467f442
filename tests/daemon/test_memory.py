"""release_memory: what is alive is frozen out of the collector's walks, what a reload dropped
is still collected."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from modelmesh_healthd.daemon import memory
from modelmesh_healthd.daemon.memory import release_memory, trim_periodically


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_what_is_alive_after_a_release_is_frozen() -> None:
    kept = Node()
    release_memory()
    assert gc.get_freeze_count() > 0
    assert kept.me is kept


def test_a_cycle_dropped_after_a_release_is_collected_by_the_next_one() -> None:
    node = Node()
    release_memory()  # frozen alive, as the configuration a reload will replace
    gone = weakref.ref(node)
    del node
    gc.collect()
    assert gone() is not None  # frozen: the collector does not look at it
    release_memory()
    assert gone() is None


async def test_trim_periodically_releases_after_the_first_wait_then_every_period() -> None:
    gc.unfreeze()
    task = asyncio.create_task(trim_periodically(every=3600.0, first=0.0))
    try:
        for _ in range(5):
            await asyncio.sleep(0)
        assert gc.get_freeze_count() > 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_trim_periodically_trims_the_heap_alone_between_releases(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trims: list[int] = []
    monkeypatch.setattr(memory, "_TRIM", trims.append)
    gc.unfreeze()
    task = asyncio.create_task(trim_periodically(every=3600.0, heap_every=0.0))
    try:
        for _ in range(5):
            await asyncio.sleep(0)
        assert trims, "the heap was not trimmed before the first release"
        assert gc.get_freeze_count() == 0  # no release (collection and freeze) yet
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
