"""The scheduler's guarantees, with fake jobs on a real event loop."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from modelmesh_healthd.daemon.scheduler import Scheduler


class Recorder:
    """Jobs that take `durations[name]` seconds and ask to run again every `every` seconds."""

    def __init__(self, durations: dict[str, float], every: float = 0.01) -> None:
        self.durations = durations
        self.every = every
        self.running: Counter[str] = Counter()
        self.max_parallel_per_provider = 0
        self.max_parallel = 0
        self.runs: Counter[str] = Counter()
        self.scheduler: Scheduler | None = None

    async def job(self, name: str, due: float) -> float | None:
        self.running[name] += 1
        self.max_parallel_per_provider = max(self.max_parallel_per_provider, self.running[name])
        self.max_parallel = max(self.max_parallel, sum(self.running.values()))
        try:
            await asyncio.sleep(self.durations.get(name, 0.0))
        finally:
            self.running[name] -= 1
        self.runs[name] += 1
        assert self.scheduler is not None
        # As timing.next_due does: anchored on the due time, never before the probe finished.
        return max(due + self.every, self.scheduler.now())


def recorded(
    durations: dict[str, float], *, every: float, concurrency: int
) -> tuple[Recorder, Scheduler]:
    """A Recorder and the Scheduler that runs its jobs."""
    rec = Recorder(durations, every=every)
    sched = Scheduler(rec.job, concurrency=concurrency)
    rec.scheduler = sched
    return rec, sched


@asynccontextmanager
async def running(scheduler: Scheduler) -> AsyncIterator[None]:
    """The scheduler's loop for the duration of the block, stopped and drained after it."""
    task = asyncio.create_task(scheduler.run())
    try:
        yield
    finally:
        scheduler.stop()
        await scheduler.drain(1.0)
        await task


async def run_for(scheduler: Scheduler, seconds: float) -> None:
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(seconds)
    scheduler.stop()
    await scheduler.drain(1.0)
    await task


async def test_one_provider_is_never_probed_twice_at_once() -> None:
    rec = Recorder({"a": 0.05}, every=0.0)  # due again at once, while still running
    sched = Scheduler(rec.job, concurrency=8)
    rec.scheduler = sched
    sched.add("a", sched.now())
    sched.expedite("a")
    await run_for(sched, 0.3)
    assert rec.runs["a"] >= 3
    assert rec.max_parallel_per_provider == 1


async def test_the_global_concurrency_bound_holds() -> None:
    rec = Recorder({f"p{i}": 0.02 for i in range(20)}, every=0.0)
    sched = Scheduler(rec.job, concurrency=3)
    rec.scheduler = sched
    for i in range(20):
        sched.add(f"p{i}", sched.now())
    await run_for(sched, 0.3)
    assert rec.max_parallel == 3
    assert all(rec.runs[f"p{i}"] >= 1 for i in range(20))


async def test_a_slow_probe_delays_only_itself() -> None:
    rec = Recorder({"slow": 10.0, "fast": 0.0}, every=0.01)
    sched = Scheduler(rec.job, concurrency=4)
    rec.scheduler = sched
    sched.add("slow", sched.now())
    sched.add("fast", sched.now())
    await run_for(sched, 0.3)
    assert rec.runs["slow"] == 0  # still running, then cancelled by the drain
    assert rec.runs["fast"] >= 5


async def test_expedite_moves_an_idle_provider_to_now() -> None:
    rec = Recorder({}, every=3600.0)
    sched = Scheduler(rec.job, concurrency=1)
    rec.scheduler = sched
    sched.add("a", sched.now() + 3600.0)
    task = asyncio.create_task(sched.run())
    await asyncio.sleep(0.05)
    assert rec.runs["a"] == 0
    sched.expedite("a")
    await asyncio.sleep(0.05)
    assert rec.runs["a"] == 1
    sched.stop()
    await task


async def test_a_removed_provider_is_not_scheduled_again() -> None:
    rec = Recorder({"a": 0.05}, every=0.0)
    sched = Scheduler(rec.job, concurrency=1)
    rec.scheduler = sched
    sched.add("a", sched.now())
    task = asyncio.create_task(sched.run())
    await asyncio.sleep(0.01)
    sched.remove("a")
    await asyncio.sleep(0.15)
    assert rec.runs["a"] == 1
    assert "a" not in sched
    sched.stop()
    await task


async def test_drain_waits_for_short_jobs_and_cancels_long_ones() -> None:
    rec = Recorder({"short": 0.05, "long": 30.0}, every=3600.0)
    sched = Scheduler(rec.job, concurrency=4)
    rec.scheduler = sched
    sched.add("short", sched.now())
    sched.add("long", sched.now())
    task = asyncio.create_task(sched.run())
    await asyncio.sleep(0.01)
    sched.stop()
    cancelled = await sched.drain(0.3)
    await task
    assert cancelled == 1
    assert rec.runs == Counter({"short": 1})


async def test_a_failing_job_is_counted_and_the_others_carry_on() -> None:
    async def job(name: str, due: float) -> float | None:
        if name == "broken":
            raise RuntimeError("bug")
        return due + 0.01

    sched = Scheduler(job, concurrency=2)
    sched.add("broken", sched.now())
    sched.add("fine", sched.now())
    await run_for(sched, 0.1)
    assert sched.stats.failed_jobs == 1
    assert sched.stats.completed > 2


async def test_overdue_reports_how_late_the_most_overdue_provider_is() -> None:
    async def job(name: str, due: float) -> float | None:
        return None

    sched = Scheduler(job, concurrency=1)
    sched.add("a", sched.now() - 5.0)
    assert 5.0 <= sched.overdue() < 6.0
    sched.add("b", sched.now() + 60.0)
    sched.remove("a")
    assert sched.overdue() == 0.0


async def test_removed_and_added_again_while_running_never_overlaps_and_carries_on() -> None:
    rec, sched = recorded({"a": 0.05}, every=0.01, concurrency=4)
    sched.add("a", sched.now())
    async with running(sched):
        await asyncio.sleep(0.02)  # its first job is running
        assert sched.due_of("a") is None
        sched.remove("a")
        sched.add("a", sched.now())  # a reload that drops the provider and brings it back
        await asyncio.sleep(0.3)
    assert rec.max_parallel_per_provider == 1
    assert rec.runs["a"] >= 3  # the running job's answer scheduled it again


async def test_expedited_while_running_runs_again_when_it_finishes() -> None:
    rec, sched = recorded({"a": 0.05}, every=3600.0, concurrency=1)
    sched.add("a", sched.now())
    async with running(sched):
        await asyncio.sleep(0.02)
        sched.expedite("a")  # e.g. its key changed while the old key's probe ran
        await asyncio.sleep(0.2)
    assert rec.runs["a"] == 2
    due = sched.due_of("a")
    assert due is not None
    assert due > sched.now() + 3000  # then back to its interval


async def test_many_moves_leave_one_live_schedule_per_provider() -> None:
    rec, sched = recorded({}, every=3600.0, concurrency=8)
    now = sched.now()
    for i in range(50):
        for name in ("a", "b"):
            sched.add(name, now + 10 + i)  # each move leaves a stale heap item behind
    sched.add("a", now)
    sched.add("b", now)
    await run_for(sched, 0.1)
    assert rec.runs == Counter({"a": 1, "b": 1})
