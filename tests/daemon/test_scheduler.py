"""The scheduler's guarantees, with fake jobs on a real event loop and a clock moved by hand.

Every duration here is on the test's clock: a "slow" job takes minutes without the test taking any
longer, and counts are exact.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from clock_support import ManualClock
from modelmesh_healthd.daemon.scheduler import Scheduler


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


class Recorder:
    """Jobs that take `durations[name]` seconds and ask to run again every `every` seconds."""

    def __init__(self, clock: ManualClock, durations: dict[str, float], every: float) -> None:
        self.clock = clock
        self.durations = durations
        self.every = every
        self.running: Counter[str] = Counter()
        self.max_parallel_per_provider = 0
        self.max_parallel = 0
        self.runs: Counter[str] = Counter()

    async def job(self, name: str, due: float) -> float | None:
        self.running[name] += 1
        self.max_parallel_per_provider = max(self.max_parallel_per_provider, self.running[name])
        self.max_parallel = max(self.max_parallel, sum(self.running.values()))
        try:
            await self.clock.sleep(self.durations.get(name, 0.0))
        finally:
            self.running[name] -= 1
        self.runs[name] += 1
        # As timing.next_due does: anchored on the due time, never before the probe finished.
        return max(due + self.every, self.clock.now())


def recorded(
    clock: ManualClock, durations: dict[str, float], *, every: float, concurrency: int
) -> tuple[Recorder, Scheduler]:
    """A Recorder and the Scheduler that runs its jobs on `clock`."""
    rec = Recorder(clock, durations, every)
    return rec, Scheduler(rec.job, concurrency=concurrency, clock=clock)


async def stop(scheduler: Scheduler, clock: ManualClock, grace: float = 1.0) -> int:
    """Stop the scheduler and drain it, the clock moving through the grace period."""
    scheduler.stop()
    drain = asyncio.create_task(scheduler.drain(grace))
    await clock.advance(grace)
    return await drain


@asynccontextmanager
async def running(scheduler: Scheduler, clock: ManualClock) -> AsyncIterator[None]:
    """The scheduler's loop for the duration of the block, stopped and drained after it."""
    task = asyncio.create_task(scheduler.run())
    try:
        yield
    finally:
        await stop(scheduler, clock)
        await task


async def run_for(scheduler: Scheduler, clock: ManualClock, seconds: float) -> None:
    async with running(scheduler, clock):
        await clock.advance(seconds)


async def test_one_provider_is_never_probed_twice_at_once(clock: ManualClock) -> None:
    rec, sched = recorded(clock, {"a": 5.0}, every=0.0, concurrency=8)  # due again at once
    sched.add("a", clock.now())
    async with running(sched, clock):
        await clock.advance(1.0)
        sched.expedite("a")  # while it runs: again as soon as it finishes, not alongside
        await clock.advance(29.0)
    assert rec.runs["a"] == 6  # back to back: finished at 5, 10, ... 30
    assert rec.max_parallel_per_provider == 1


async def test_the_global_concurrency_bound_holds(clock: ManualClock) -> None:
    rec, sched = recorded(clock, {f"p{i}": 2.0 for i in range(20)}, every=0.0, concurrency=3)
    for i in range(20):
        sched.add(f"p{i}", clock.now())
    await run_for(sched, clock, 20.0)
    assert rec.max_parallel == 3
    assert sum(rec.runs.values()) == 30  # three at a time, two seconds each
    assert all(rec.runs[f"p{i}"] >= 1 for i in range(20))


async def test_a_slow_probe_delays_only_itself(clock: ManualClock) -> None:
    rec, sched = recorded(clock, {"slow": 600.0, "fast": 0.0}, every=1.0, concurrency=4)
    sched.add("slow", clock.now())
    sched.add("fast", clock.now())
    await run_for(sched, clock, 10.0)
    assert rec.runs["slow"] == 0  # still running, then cancelled by the drain
    assert rec.runs["fast"] == 11  # at 0, 1, ... 10: on time throughout


async def test_a_provider_is_started_when_it_is_due_and_not_before(clock: ManualClock) -> None:
    rec, sched = recorded(clock, {}, every=3600.0, concurrency=1)
    sched.add("a", clock.now() + 10.0)
    async with running(sched, clock):
        await clock.advance(9.5)
        assert rec.runs["a"] == 0
        await clock.advance(0.5)
        assert rec.runs["a"] == 1
    assert sched.stats.last_lateness == 0.0


async def test_expedite_moves_an_idle_provider_to_now(clock: ManualClock) -> None:
    rec, sched = recorded(clock, {}, every=3600.0, concurrency=1)
    sched.add("a", clock.now() + 3600.0)
    async with running(sched, clock):
        await clock.advance(5.0)
        assert rec.runs["a"] == 0
        sched.expedite("a")
        await clock.advance(0.0)
        assert rec.runs["a"] == 1


async def test_a_removed_provider_is_not_scheduled_again(clock: ManualClock) -> None:
    rec, sched = recorded(clock, {"a": 5.0}, every=0.0, concurrency=1)
    sched.add("a", clock.now())
    async with running(sched, clock):
        await clock.advance(1.0)
        sched.remove("a")
        await clock.advance(15.0)
    assert rec.runs["a"] == 1
    assert "a" not in sched


async def test_drain_waits_for_short_jobs_and_cancels_long_ones(clock: ManualClock) -> None:
    rec, sched = recorded(clock, {"short": 5.0, "long": 3000.0}, every=3600.0, concurrency=4)
    sched.add("short", clock.now())
    sched.add("long", clock.now())
    task = asyncio.create_task(sched.run())
    await clock.advance(1.0)
    cancelled = await stop(sched, clock, grace=30.0)
    await task
    assert cancelled == 1
    assert rec.runs == Counter({"short": 1})


async def test_a_drain_with_nothing_left_running_ends_before_its_grace(clock: ManualClock) -> None:
    rec, sched = recorded(clock, {"a": 5.0}, every=3600.0, concurrency=1)
    sched.add("a", clock.now())
    task = asyncio.create_task(sched.run())
    await clock.advance(1.0)
    sched.stop()
    drain = asyncio.create_task(sched.drain(30.0))
    await clock.advance(4.0)  # the job finishes; the grace has 26 s left
    assert drain.done()
    assert await drain == 0
    await task
    assert rec.runs["a"] == 1


async def test_a_failing_job_is_counted_and_the_others_carry_on(clock: ManualClock) -> None:
    async def job(name: str, due: float) -> float | None:
        if name == "broken":
            raise RuntimeError("bug")
        return due + 1.0

    sched = Scheduler(job, concurrency=2, clock=clock)
    sched.add("broken", clock.now())
    sched.add("fine", clock.now())
    await run_for(sched, clock, 10.0)
    assert sched.stats.failed_jobs == 1
    assert sched.stats.completed == 12  # "fine" at 0, 1, ... 10, "broken" once (next in 30 s)


async def test_overdue_reports_how_late_the_most_overdue_provider_is(clock: ManualClock) -> None:
    async def job(name: str, due: float) -> float | None:
        return None

    sched = Scheduler(job, concurrency=1, clock=clock)
    sched.add("a", clock.now() - 5.0)
    assert sched.overdue() == 5.0
    sched.add("b", clock.now() + 60.0)
    sched.remove("a")
    assert sched.overdue() == 0.0


async def test_removed_and_added_again_while_running_never_overlaps_and_carries_on(
    clock: ManualClock,
) -> None:
    rec, sched = recorded(clock, {"a": 5.0}, every=1.0, concurrency=4)
    sched.add("a", clock.now())
    async with running(sched, clock):
        await clock.advance(2.0)  # its first job is running
        assert sched.due_of("a") is None
        sched.remove("a")
        sched.add("a", clock.now())  # a reload that drops the provider and brings it back
        await clock.advance(28.0)
    assert rec.max_parallel_per_provider == 1
    assert rec.runs["a"] == 6  # the running job's answer scheduled it again: back to back


async def test_expedited_while_running_runs_again_when_it_finishes(clock: ManualClock) -> None:
    rec, sched = recorded(clock, {"a": 5.0}, every=3600.0, concurrency=1)
    sched.add("a", clock.now())
    async with running(sched, clock):
        await clock.advance(2.0)
        sched.expedite("a")  # e.g. its key changed while the old key's probe ran
        await clock.advance(20.0)
    assert rec.runs["a"] == 2
    due = sched.due_of("a")
    assert due is not None
    assert due > clock.now() + 3000  # then back to its interval


async def test_many_moves_leave_one_live_schedule_per_provider(clock: ManualClock) -> None:
    rec, sched = recorded(clock, {}, every=3600.0, concurrency=8)
    now = clock.now()
    for i in range(50):
        for name in ("a", "b"):
            sched.add(name, now + 10 + i)  # each move leaves a stale heap item behind
    sched.add("a", now)
    sched.add("b", now)
    await run_for(sched, clock, 100.0)
    assert rec.runs == Counter({"a": 1, "b": 1})


class StartLog:
    """Jobs that record (name, due, started) and ask to run again `every` seconds after due."""

    def __init__(self, clock: ManualClock, every: float) -> None:
        self.clock = clock
        self.every = every
        self.starts: list[tuple[str, float, float]] = []

    async def job(self, name: str, due: float) -> float | None:
        self.starts.append((name, due, self.clock.now()))
        return due + self.every


@pytest.mark.parametrize(
    ("due_offsets", "slack", "started_offsets"),
    [
        # 1000.0 is on every grid below: due times inside one step start together at its end.
        ((0.01, 0.02, 0.049), 0.05, (0.05, 0.05, 0.05)),
        ((0.01, 0.06), 0.05, (0.05, 0.1)),
        ((0.05,), 0.05, (0.05,)),  # on the grid: not held at all
        ((0.01, 0.02), 0.0, (0.01, 0.02)),  # no slack: each at its own time
        ((0.3, 0.7), 0.25, (0.5, 0.75)),
    ],
)
async def test_with_slack_jobs_start_on_the_next_step_of_the_grid(
    clock: ManualClock,
    due_offsets: tuple[float, ...],
    slack: float,
    started_offsets: tuple[float, ...],
) -> None:
    log = StartLog(clock, every=3600.0)
    sched = Scheduler(log.job, concurrency=8, clock=clock, slack=slack)
    base = clock.now()
    for i, offset in enumerate(due_offsets):
        sched.add(f"p{i}", base + offset)
    await run_for(sched, clock, 1.0)
    started = {name: round(at - base, 9) for name, _, at in log.starts}
    assert started == {f"p{i}": s for i, s in enumerate(started_offsets)}


async def test_slack_never_shifts_the_schedule_itself(clock: ManualClock) -> None:
    # Due every 1.03 s: each start waits for the grid, but each due stays 1.03 s after the last.
    log = StartLog(clock, every=1.03)
    sched = Scheduler(log.job, concurrency=1, clock=clock, slack=0.05)
    base = clock.now()
    sched.add("a", base + 0.01)
    await run_for(sched, clock, 20.0)
    dues = [due - base for _, due, _ in log.starts]
    assert dues == pytest.approx([0.01 + 1.03 * k for k in range(len(dues))])
    assert len(dues) == 20  # 0.01 ... 19.58: none lost to the waits
    assert all(0.0 <= at - due < 0.05 for _, due, at in log.starts)


def test_a_negative_slack_is_refused() -> None:
    async def job(name: str, due: float) -> float | None:
        return None

    with pytest.raises(ValueError, match="slack must not be negative"):
        Scheduler(job, concurrency=1, clock=ManualClock(), slack=-0.1)
