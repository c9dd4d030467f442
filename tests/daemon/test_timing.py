"""The next-run computation, table by table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmesh_healthd.daemon.timing import (
    Phase,
    Timing,
    base_delay,
    first_due,
    next_due,
    phase_of,
)
from modelmesh_healthd.state import ProviderState

T = Timing(
    interval=30.0,
    fast_interval=5.0,
    down_interval=15.0,
    down_interval_max=120.0,
    jitter=0.0,
    timeout=10.0,
)


@pytest.mark.parametrize(
    ("state", "phase"),
    [
        (ProviderState(), Phase.HEALTHY),
        (ProviderState(consecutive_failures=1, availability_score=0.75), Phase.PENDING),
        (ProviderState(loading_since=100.0), Phase.PENDING),
        (ProviderState(available=False, availability_score=0.4), Phase.DOWN),
        (
            ProviderState(available=False, availability_score=0.5, consecutive_successes=1),
            Phase.PENDING,
        ),
        (ProviderState(auth_valid=False, available=False), Phase.DOWN),
    ],
    ids=["healthy", "first failure", "loading", "down", "first success after down", "bad key"],
)
def test_phase_follows_the_provider_state(state: ProviderState, phase: Phase) -> None:
    assert phase_of(state) is phase


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
