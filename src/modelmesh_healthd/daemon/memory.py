"""Handing memory the daemon no longer uses back to the operating system.

CPython returns freed small objects to its own arenas, and larger blocks to glibc's heap, which
keeps them. For a daemon that lives for months with a fleet of 10,000 providers, what start-up
and a reload used briefly (parsing and validating the configuration, the first full save) and
what probing keeps freeing would otherwise stay resident. `malloc_trim(0)` gives it back; where
there is no glibc (musl, macOS) these functions do nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelmesh_healthd.storage import StateManager

__all__ = [
    "HEAP_TRIM_EVERY",
    "release_after_first_save",
    "release_memory",
    "trim_heap",
    "trim_periodically",
]


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_TRIM = _find_malloc_trim()

HEAP_TRIM_EVERY = 5.0
"""Seconds between two trims of the C heap alone (`trim_heap`), between the full releases.

Probing allocates and frees larger blocks all the time (encoded rows, request and response
buffers, coroutine frames); glibc serves them from the free holes start-up left across its heap,
and a page written once stays resident after its block is freed. So resident memory creeps
towards the heap's whole size between two trims, the faster the higher the probe rate
(docs/benchmarks.md, memory per provider). A trim alone walks only glibc's free chunks, where
the full release also walks every object for the cyclic collector: so the heap is trimmed
often, and the collector runs once a minute.
"""


def trim_heap() -> None:
    """Give the C heap's free pages back to the system (`malloc_trim(0)`), nothing else."""
    if _TRIM is not None:
        _TRIM(0)


def release_memory() -> None:
    """After start-up or a reload: collect cycles, freeze what is left, then trim the C heap.

    What is alive then (the configuration, the state, the mesh) lives until the next reload, so
    the cyclic collector is told to stop walking it (`gc.freeze`): otherwise every full
    collection walks the whole fleet again while probing (docs/benchmarks.md). The next call
    thaws it first, so what a reload replaced is collected.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    trim_heap()


async def trim_periodically(
    every: float = 60.0, first: float | None = None, heap_every: float = HEAP_TRIM_EVERY
) -> None:
    """`release_memory()` every `every` seconds (the first time after `first`), forever, and
    `trim_heap()` every `heap_every` seconds in between.

    What probing allocated and freed meanwhile goes back to the system, and what it built to
    keep (each provider's history, pooled connections) is frozen like the start-up's: left in
    the collector's view, a large fleet had full collections walk it many times a minute,
    each one stopping the loop, the tail of the scheduler's lateness; one collection a minute
    costs about as much as one of those (docs/benchmarks.md). The heap alone is trimmed more
    often, for what probing keeps freeing (`HEAP_TRIM_EVERY`).

    Args:
        every: Seconds between two releases.
        first: Seconds before the first (default `every`): the daemon passes its longest
            interval, so what the first round of probes builds is frozen soon.
        heap_every: Seconds between two trims of the C heap alone.
    """
    loop = asyncio.get_running_loop()
    release_at = loop.time() + (every if first is None else first)
    while True:
        await asyncio.sleep(max(0.0, min(heap_every, release_at - loop.time())))
        if loop.time() >= release_at:
            release_memory()
            release_at = loop.time() + every
        else:
            trim_heap()


async def release_after_first_save(manager: StateManager) -> None:
    """`release_memory()` once the start-up's full save is written.

    That save runs in the store's writer after the daemon is ready, so its rows and page cache
    are freed after the ready-time release; left to the periodic trim, they stayed resident
    for up to a minute (docs/benchmarks.md, memory per provider).
    """
    await manager.sync()
    release_memory()
