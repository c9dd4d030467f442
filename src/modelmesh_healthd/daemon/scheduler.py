"""The probe scheduler: one timer heap, a global concurrency bound, one probe per provider.

It knows nothing of HTTP or health. It runs `job(name, due)` for each provider when it is due,
and the job answers when that provider is due next (see `timing.next_due`). A provider leaves
the heap while its job runs and returns with the job's answer, so two probes of one provider
never overlap. Jobs run as separate tasks: a slow probe delays only itself.

Per provider it keeps one float (when it is due) and one `(due, name)` heap item, nothing more
(docs/benchmarks.md has what that costs a large fleet). A heap item is current only while it
matches the provider's due time and the provider is idle; moved or removed providers leave stale
items behind, dropped when they reach the top.

Time comes from a `Clock` (the event loop's by default): the scheduler reads it and asks it for
wake-ups, never sleeping on its own, so a test can drive it with a clock it moves by hand.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

__all__ = ["START_GRID", "Clock", "Job", "LoopClock", "Scheduler", "SchedulerStats", "Wakeup"]

START_GRID = 0.05
"""The daemon's `slack`, in seconds. A probe that wakes the loop by itself costs far more CPU
than one started beside others, which find the loop, the client and the core warm
(docs/benchmarks.md); the grid's step is a small fraction of any schedule's jitter."""

Job = Callable[[str, float], Awaitable[float | None]]
"""`job(name, due) -> next due` (None: do not schedule again). Runs on the scheduler's loop."""

_log = structlog.get_logger("modelmesh_healthd.daemon")


class Wakeup(Protocol):
    """A wake-up asked of a Clock; cancel it when it is no longer wanted."""

    def cancel(self) -> None:
        """Do not call it (harmless after it ran)."""
        ...


class Clock(Protocol):
    """The scheduler's time: a monotonic reading and wake-ups at a given reading."""

    def now(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    def call_at(self, when: float, callback: Callable[[], object]) -> Wakeup:
        """Run `callback` on the event loop once `now()` reaches `when`."""
        ...


class LoopClock:
    """The running event loop's monotonic clock (the default)."""

    __slots__ = ("_loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()

    def now(self) -> float:
        """The loop's time."""
        return self._loop.time()

    def call_at(self, when: float, callback: Callable[[], object]) -> Wakeup:
        """The loop's `call_at`."""
        return self._loop.call_at(when, callback)


@dataclass(slots=True)
class SchedulerStats:
    """Counters for metrics, the summary line and the watchdog."""

    started: int = 0
    completed: int = 0
    failed_jobs: int = 0
    last_lateness: float = 0.0
    max_lateness: float = 0.0
    last_completed_at: float | None = None
    """When a job last finished, on the scheduler's clock (liveness: probes completing)."""


class Scheduler:
    """Runs each provider's job when it is due.

    Args:
        job: The per-provider work; returns when the provider is due next.
        concurrency: Most jobs running at once; due jobs beyond it wait (and show as lateness).
        on_start: Called with (name, due, started) as each job starts (lateness metrics).
        clock: Where time comes from (default: the running event loop's clock).
        slack: Start due jobs only on a grid of this many seconds (0: at their due time). A
            job waits at most `slack` longer, and the jobs due within one step of the grid
            start in one wake-up of the loop: timer coalescing, as systemd's `AccuracySec=`
            or the kernel's timer slack. Each job's own due time stays what its schedule says
            (no drift), and its lateness counts the wait.
    """

    def __init__(
        self,
        job: Job,
        *,
        concurrency: int,
        on_start: Callable[[str, float, float], None] | None = None,
        clock: Clock | None = None,
        slack: float = 0.0,
    ) -> None:
        if slack < 0:
            raise ValueError(f"slack must not be negative, got {slack}")
        self._slack = slack
        self._job = job
        self._limit = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._on_start = on_start
        self.start_observers: list[Callable[[str, float, float], None]] = []
        """More (name, due, started) callbacks, e.g. a benchmark's lateness recorder."""
        self._heap: list[tuple[float, str]] = []
        self._due: dict[str, float] = {}
        """Every scheduled provider: when it is due (while its job runs: the run's due time)."""
        self._tasks: dict[str, asyncio.Task[None]] = {}
        """The providers whose job runs now."""
        self._again: set[str] = set()
        """Expedited while running: run once more as soon as it finishes."""
        self._waiter: asyncio.Future[None] | None = None
        self._sleep_until = math.inf
        """When the sleeping loop wakes by itself: only an earlier due time must wake it."""
        self._stopping = False
        self.stats = SchedulerStats()
        self._clock = clock or LoopClock()

    # --- what runs when ---------------------------------------------------

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, name: object) -> bool:
        return name in self._due

    def now(self) -> float:
        """The scheduler's clock (by default the event loop's monotonic time)."""
        return self._clock.now()

    def add(self, name: str, due: float) -> None:
        """Schedule a new provider, or move an idle one, to `due`."""
        if name in self._tasks:
            self._due.setdefault(name, due)  # its job will answer when it is due next
            return
        self._due[name] = due
        heapq.heappush(self._heap, (due, name))
        self._wake(due)

    def expedite(self, name: str) -> None:
        """Probe `name` as soon as possible (after its running probe, if one is running)."""
        due = self._due.get(name)
        if due is None:
            return
        if name in self._tasks:
            self._again.add(name)
        elif due > self.now():
            self.add(name, self.now())

    def remove(self, name: str) -> None:
        """Stop scheduling `name`; a running probe finishes but is not scheduled again."""
        self._due.pop(name, None)  # heap items are dropped lazily when popped
        self._again.discard(name)

    def running(self, name: str) -> bool:
        """Whether a probe of `name` is in flight now."""
        return name in self._tasks

    def due_of(self, name: str) -> float | None:
        """When `name` is due next (None while its probe runs or if unknown)."""
        return None if name in self._tasks else self._due.get(name)

    def _current(self, due: float, name: str) -> bool:
        """Whether a heap item is the provider's live schedule (not moved, removed, running)."""
        return self._due.get(name) == due and name not in self._tasks

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def resize(self, concurrency: int) -> None:
        """Change the concurrency bound; running jobs keep their slots."""
        self._limit = asyncio.Semaphore(max(0, concurrency - len(self._tasks)))
        self._concurrency = concurrency

    def overdue(self) -> float:
        """How late the most overdue idle provider is, in seconds (0 if none is due)."""
        head = self._next_head()
        return 0.0 if head is None else max(0.0, self.now() - head[0])

    # --- the loop ---------------------------------------------------------

    async def run(self) -> None:
        """Start due jobs until `stop()`; returns without waiting for running jobs."""
        while not self._stopping:
            head = self._next_head()
            if head is None:
                await self._sleep(None)
                continue
            due, name = head
            now = self.now()
            if due > now:
                await self._sleep(self._start_at(due) - now)
                continue
            heapq.heappop(self._heap)
            await self._limit.acquire()
            if self._stopping or not self._current(due, name):
                self._limit.release()
                continue
            self._start(name, due)

    def _start_at(self, due: float) -> float:
        """When a job due at `due` starts: on the next step of the grid (see `slack`)."""
        if not self._slack:
            return due
        return max(due, math.ceil(due / self._slack) * self._slack)

    def _next_head(self) -> tuple[float, str] | None:
        heap = self._heap
        while heap:
            due, name = heap[0]
            if self._current(due, name):
                return due, name
            heapq.heappop(heap)  # stale
        return None

    def _start(self, name: str, due: float) -> None:
        self._again.discard(name)
        started = self.now()
        lateness = max(0.0, started - due)
        self.stats.started += 1
        self.stats.last_lateness = lateness
        self.stats.max_lateness = max(self.stats.max_lateness, lateness)
        if self._on_start is not None:
            self._on_start(name, due, started)
        for observe in self.start_observers:
            observe(name, due, started)
        limit = self._limit
        task = asyncio.create_task(self._run_job(name, due, limit), name=f"probe:{name}")
        self._tasks[name] = task

    async def _run_job(self, name: str, due: float, limit: asyncio.Semaphore) -> None:
        next_due: float | None = None
        try:
            next_due = await self._job(name, due)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a bug in one provider's job must not stop the others
            self.stats.failed_jobs += 1
            _log.exception("scheduler.job_failed", provider=name)
            next_due = self.now() + 30.0
        finally:
            limit.release()
            self._tasks.pop(name, None)
            self.stats.completed += 1
            self.stats.last_completed_at = self.now()
        if name in self._due and next_due is not None and not self._stopping:
            if name in self._again:
                self._again.discard(name)
                next_due = self.now()
            self._due[name] = next_due
            heapq.heappush(self._heap, (next_due, name))
            self._wake(next_due)

    async def _sleep(self, delay: float | None) -> None:
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        until = math.inf if delay is None else self.now() + delay
        handle = None if delay is None else self._clock.call_at(until, lambda: _resolve(waiter))
        self._sleep_until = until
        try:
            await waiter
        finally:
            self._waiter = None
            self._sleep_until = math.inf
            if handle is not None:
                handle.cancel()

    def _wake(self, due: float | None = None) -> None:
        # A job due after the sleeping loop's own wake-up need not wake it: it will be found
        # then. Waking (a future and a timer) for every finished probe cost more than the
        # heap push.
        if self._waiter is not None and (due is None or self._start_at(due) < self._sleep_until):
            _resolve(self._waiter)

    # --- stopping ---------------------------------------------------------

    def stop(self) -> None:
        """Stop starting jobs (running ones continue; see `drain`)."""
        self._stopping = True
        self._wake()

    def cancel_running(self) -> None:
        """Cancel every running job now (a forced stop)."""
        for task in self._tasks.values():
            task.cancel()

    async def drain(self, grace: float) -> int:
        """Wait up to `grace` seconds for running jobs, then cancel the rest.

        Returns:
            How many jobs were cancelled.
        """
        tasks = list(self._tasks.values())
        if not tasks:
            return 0
        deadline = asyncio.get_running_loop().create_future()
        wakeup = self._clock.call_at(self.now() + grace, lambda: _resolve(deadline))
        pending: set[asyncio.Future[None]] = set(tasks)
        try:
            while pending and not deadline.done():
                _, pending = await asyncio.wait(
                    pending | {deadline}, return_when=asyncio.FIRST_COMPLETED
                )
                pending.discard(deadline)
        finally:
            wakeup.cancel()
            deadline.cancel()
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        return sum(1 for t in tasks if t.cancelled())


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
