"""The probe scheduler: one timer heap, a global concurrency bound, one probe per provider.

It knows nothing of HTTP or health. It runs `job(name, due)` for each provider when it is due,
and the job answers when that provider is due next (see `timing.next_due`). A provider's entry
leaves the heap while its job runs and returns with the job's answer, so two probes of one
provider never overlap. Jobs run as separate tasks: a slow probe delays only itself.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

__all__ = ["Job", "Scheduler", "SchedulerStats"]

Job = Callable[[str, float], Awaitable[float | None]]
"""`job(name, due) -> next due` (None: do not schedule again). Runs on the scheduler's loop."""

_log = structlog.get_logger("modelmesh_healthd.daemon")


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


class _Entry:
    __slots__ = ("again", "due", "running", "seq")

    def __init__(self, due: float, seq: int) -> None:
        self.due = due
        self.seq = seq
        self.running = False
        self.again = False  # expedited while running: run once more as soon as it finishes


class Scheduler:
    """Runs each provider's job when it is due.

    Args:
        job: The per-provider work; returns when the provider is due next.
        concurrency: Most jobs running at once; due jobs beyond it wait (and show as lateness).
        on_start: Called with (name, due, started) as each job starts (lateness metrics).
    """

    def __init__(
        self,
        job: Job,
        *,
        concurrency: int,
        on_start: Callable[[str, float, float], None] | None = None,
    ) -> None:
        self._job = job
        self._limit = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._on_start = on_start
        self.start_observers: list[Callable[[str, float, float], None]] = []
        """More (name, due, started) callbacks, e.g. a benchmark's lateness recorder."""
        self._heap: list[tuple[float, int, str]] = []
        self._entries: dict[str, _Entry] = {}
        self._seq = itertools.count()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._waiter: asyncio.Future[None] | None = None
        self._stopping = False
        self.stats = SchedulerStats()
        self._loop_time = asyncio.get_running_loop().time

    # --- what runs when ---------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def now(self) -> float:
        """The scheduler's clock (the event loop's monotonic time)."""
        return self._loop_time()

    def add(self, name: str, due: float) -> None:
        """Schedule a new provider, or move an idle one, to `due`."""
        entry = self._entries.get(name)
        if entry is None:
            entry = self._entries[name] = _Entry(due, next(self._seq))
        elif entry.running:
            return  # its job will answer when it is due next
        else:
            entry.due, entry.seq = due, next(self._seq)
        heapq.heappush(self._heap, (due, entry.seq, name))
        self._wake()

    def expedite(self, name: str) -> None:
        """Probe `name` as soon as possible (after its running probe, if one is running)."""
        entry = self._entries.get(name)
        if entry is None:
            return
        if entry.running:
            entry.again = True
        elif entry.due > self.now():
            self.add(name, self.now())

    def remove(self, name: str) -> None:
        """Stop scheduling `name`; a running probe finishes but is not scheduled again."""
        self._entries.pop(name, None)  # heap entries are dropped lazily when popped

    def due_of(self, name: str) -> float | None:
        """When `name` is due next (None while its probe runs or if unknown)."""
        entry = self._entries.get(name)
        return None if entry is None or entry.running else entry.due

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def resize(self, concurrency: int) -> None:
        """Change the concurrency bound; running jobs keep their slots."""
        self._limit = asyncio.Semaphore(max(0, concurrency - len(self._tasks)))
        self._concurrency = concurrency

    def overdue(self) -> float:
        """How late the most overdue idle provider is, in seconds (0 if none is due)."""
        while self._heap:
            due, seq, name = self._heap[0]
            entry = self._entries.get(name)
            if entry is None or entry.seq != seq or entry.running:
                heapq.heappop(self._heap)  # stale
                continue
            return max(0.0, self.now() - due)
        return 0.0

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
                await self._sleep(due - now)
                continue
            heapq.heappop(self._heap)
            await self._limit.acquire()
            entry = self._entries.get(name)
            if self._stopping or entry is None or entry.running:
                self._limit.release()
                continue
            self._start(name, entry)

    def _next_head(self) -> tuple[float, str] | None:
        while self._heap:
            due, seq, name = self._heap[0]
            entry = self._entries.get(name)
            if entry is not None and entry.seq == seq and not entry.running:
                return due, name
            heapq.heappop(self._heap)
        return None

    def _start(self, name: str, entry: _Entry) -> None:
        entry.running = True
        entry.again = False
        started = self.now()
        lateness = max(0.0, started - entry.due)
        self.stats.started += 1
        self.stats.last_lateness = lateness
        self.stats.max_lateness = max(self.stats.max_lateness, lateness)
        if self._on_start is not None:
            self._on_start(name, entry.due, started)
        for observe in self.start_observers:
            observe(name, entry.due, started)
        limit = self._limit
        task = asyncio.create_task(self._run_job(name, entry, limit), name=f"probe:{name}")
        self._tasks[name] = task

    async def _run_job(self, name: str, entry: _Entry, limit: asyncio.Semaphore) -> None:
        next_due: float | None = None
        try:
            next_due = await self._job(name, entry.due)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a bug in one provider's job must not stop the others
            self.stats.failed_jobs += 1
            _log.exception("scheduler.job_failed", provider=name)
            next_due = self.now() + 30.0
        finally:
            limit.release()
            self._tasks.pop(name, None)
            entry.running = False
            self.stats.completed += 1
            self.stats.last_completed_at = self.now()
        if self._entries.get(name) is entry and next_due is not None and not self._stopping:
            if entry.again:
                next_due = self.now()
            entry.due, entry.seq = next_due, next(self._seq)
            heapq.heappush(self._heap, (next_due, entry.seq, name))
            self._wake()

    async def _sleep(self, delay: float | None) -> None:
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        handle = None if delay is None else loop.call_later(delay, _resolve, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if handle is not None:
                handle.cancel()

    def _wake(self) -> None:
        if self._waiter is not None:
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
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        return sum(1 for t in tasks if t.cancelled())


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
