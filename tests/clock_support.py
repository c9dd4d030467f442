"""A clock the test moves by hand, for the scheduler (see `scheduler.Clock`).

Time stands still until `advance` moves it: each wake-up due on the way fires at its own time, in
order, and the event loop is let run until everything that wake-up started has settled. Tests
then assert exact counts and times, with no real sleeping and nothing left to the machine's load.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable

SETTLE_TURNS = 50
"""Event-loop turns after each wake-up: enough for every chain of callbacks a job starts here
(a task's start, its semaphore, its result) to run to its next wait on the clock."""


class ManualWakeup:
    """A wake-up of the ManualClock."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A monotonic clock that only moves in `advance`."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, Callable[[], object], ManualWakeup]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], object]) -> ManualWakeup:
        wakeup = ManualWakeup()
        heapq.heappush(self._timers, (when, next(self._order), callback, wakeup))
        return wakeup

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock has moved `seconds` on (for jobs that stand in for probes)."""
        done = asyncio.get_running_loop().create_future()
        wakeup = self.call_at(self._now + seconds, lambda: done.done() or done.set_result(None))
        try:
            await done
        finally:
            wakeup.cancel()

    async def advance(self, seconds: float) -> None:
        """Move the clock `seconds` on, firing every wake-up due on the way at its time."""
        target = self._now + seconds
        await settle()
        while self._timers and self._timers[0][0] <= target:
            when, _, callback, wakeup = heapq.heappop(self._timers)
            if wakeup.cancelled:
                continue
            self._now = max(self._now, when)
            callback()
            await settle()
        self._now = target
        await settle()


async def settle() -> None:
    """Let the event loop run everything that is ready, and what that makes ready in turn."""
    for _ in range(SETTLE_TURNS):
        await asyncio.sleep(0)
