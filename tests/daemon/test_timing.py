"""The next-run computation, table by table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmesh_healthd.daemon.timing import Timing, base_delay, due_after, first_due, next_due
from modelmesh_healthd.state import Phase, Step

T = Timing(
    interval=30.0,
    fast_interval=5.0,
    down_interval=15.0,
    down_interval_max=120.0,
    jitter=0.0,
    timeout=10.0,
)


@pytest.mark.parametrize(
    ("phase", "down_probes", "delay"),
    [
        (Phase.HEALTHY, 0, 30.0),
        (Phase.PENDING, 0, 5.0),
        (Phase.DOWN, 0, 15.0),
        (Phase.DOWN, 1, 30.0),
        (Phase.DOWN, 2, 60.0),
        (Phase.DOWN, 3, 120.0),
        (Phase.DOWN, 4, 120.0),
        (Phase.DOWN, 10_000, 120.0),
    ],
)
def test_base_delay_per_phase_with_a_capped_growing_down_interval(
    phase: Phase, down_probes: int, delay: float
) -> None:
    assert base_delay(T, phase, down_probes) == delay


@pytest.mark.parametrize(
    ("scheduled", "finished", "resume", "due"),
    [
        (100.0, 100.2, None, 130.0),  # anchored on the schedule, not on the finish
        (100.0, 109.9, None, 130.0),  # a slow probe does not shift the cadence
        (100.0, 140.0, None, 140.0),  # never before the probe finished
        (100.0, 100.2, 200.0, 200.0),  # Retry-After wins
        (100.0, 100.2, 110.0, 130.0),  # a short Retry-After changes nothing
    ],
)
def test_next_due_is_drift_free_and_honours_retry_after(
    scheduled: float, finished: float, resume: float | None, due: float
) -> None:
    got = next_due(
        T,
        Phase.HEALTHY,
        down_probes=0,
        scheduled_at=scheduled,
        finished_at=finished,
        resume_at=resume,
        u=0.5,
    )
    assert got == due


@given(st.floats(0.0, 0.5), st.floats(0.0, 1.0, exclude_max=True), st.sampled_from(list(Phase)))
def test_jitter_stays_within_its_symmetric_band(jitter: float, u: float, phase: Phase) -> None:
    timing = Timing(jitter=jitter)
    base = base_delay(timing, phase)
    due = next_due(
        timing, phase, down_probes=0, scheduled_at=0.0, finished_at=0.0, resume_at=None, u=u
    )
    assert base * (1 - jitter) - 1e-9 <= due <= base * (1 + jitter) + 1e-9


@pytest.mark.parametrize(("u", "due"), [(0.0, 1000.0), (0.5, 1015.0), (0.999, 1029.97)])
def test_first_probe_is_staggered_uniformly_over_the_first_interval(u: float, due: float) -> None:
    assert first_due(T, Phase.HEALTHY, 1000.0, u) == pytest.approx(due)


def test_a_held_result_waits_the_down_interval_so_far_from_when_it_finished() -> None:
    held = Step([], Phase.DOWN, backoff=2, hold=True)
    got = due_after(
        T, held, scheduled_at=100.0, finished_at=101.0, resume_at=None, draw=lambda: 0.5
    )
    assert got == 101.0 + 60.0


def test_probe_now_asks_for_the_next_probe_at_once() -> None:
    now = Step([], Phase.HEALTHY, probe_now=True)
    assert (
        due_after(T, now, scheduled_at=100.0, finished_at=101.0, resume_at=None, draw=lambda: 0.5)
        == 101.0
    )


def test_an_applied_result_follows_next_due_with_its_phase_and_backoff() -> None:
    down = Step([], Phase.DOWN, backoff=1)
    got = due_after(
        T, down, scheduled_at=100.0, finished_at=100.5, resume_at=None, draw=lambda: 0.5
    )
    assert got == 130.0
