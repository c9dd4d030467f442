"""observe: one probe result in, one Step out (guard, transition, phase, backoff decided once)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmesh_healthd.state import (
    DEFAULT_POLICY,
    ConnectivityGuard,
    HealthCore,
    Mesh,
    Observation,
    Outcome,
    Phase,
    ProviderState,
    initial_state,
    observe,
    plan_probe,
)

Oc = Outcome


def fleet_core(*, guard: bool = True) -> HealthCore:
    """Three providers with one model each, all in one pool; the guard on for fleets of 3."""
    mesh = Mesh.build(
        providers=["a", "b", "c"],
        models={"a.m": "a", "b.m": "b", "c.m": "c"},
        pools={"chat": ["a.m", "b.m", "c.m"]},
    )
    return HealthCore(
        mesh,
        initial_state(mesh),
        DEFAULT_POLICY,
        ConnectivityGuard(enabled=guard, min_providers=3),
        fleet=3,
    )


@dataclass(frozen=True)
class Row:
    provider: str
    outcome: Outcome
    events: list[str]
    phase: Phase
    backoff: int = 0
    hold: bool = False


DOWN = ["probe.completed", "provider.down", "model.deactivated"]
TABLES = {
    "a healthy answer keeps the provider healthy": [
        Row("a", Oc.OK, ["probe.completed"], Phase.HEALTHY),
    ],
    "a first failure makes the phase pending": [
        Row("a", Oc.SERVER_ERROR, ["probe.completed"], Phase.PENDING),
    ],
    "a bad key takes the provider down at once, backoff starting at zero": [
        Row("a", Oc.AUTH_INVALID, DOWN, Phase.DOWN, backoff=0),
        Row("a", Oc.AUTH_INVALID, ["probe.completed"], Phase.DOWN, backoff=1),
        Row("a", Oc.AUTH_INVALID, ["probe.completed"], Phase.DOWN, backoff=2),
    ],
    "a network failure with no evidence is held, and the suspicion announced once": [
        Row("a", Oc.TIMEOUT, ["probe.completed"], Phase.PENDING),
        Row("a", Oc.TIMEOUT, ["probe.completed"], Phase.PENDING),
        Row("a", Oc.TIMEOUT, ["daemon.network_suspect", "probe.held"], Phase.DOWN, 0, True),
        Row("a", Oc.TIMEOUT, ["probe.held"], Phase.DOWN, backoff=1, hold=True),
    ],
    "an answer from another provider ends the suspicion; the next failure is applied": [
        Row("a", Oc.TIMEOUT, ["probe.completed"], Phase.PENDING),
        Row("a", Oc.TIMEOUT, ["probe.completed"], Phase.PENDING),
        Row("a", Oc.TIMEOUT, ["daemon.network_suspect", "probe.held"], Phase.DOWN, 0, True),
        Row("b", Oc.OK, ["daemon.network_restored", "probe.completed"], Phase.HEALTHY),
        Row("a", Oc.TIMEOUT, DOWN, Phase.DOWN, backoff=0),
    ],
    "an HTTP failure is never held": [
        Row("a", Oc.SERVER_ERROR, ["probe.completed"], Phase.PENDING),
        Row("a", Oc.SERVER_ERROR, ["probe.completed"], Phase.PENDING),
        Row("a", Oc.SERVER_ERROR, DOWN, Phase.DOWN),
    ],
}


@pytest.mark.parametrize("rows", list(TABLES.values()), ids=list(TABLES))
def test_observe_decides_events_phase_backoff_and_hold(rows: list[Row]) -> None:
    core = fleet_core()
    for i, row in enumerate(rows):
        step = observe(core, row.provider, Observation(row.outcome), 10.0 * i)
        got = ([e.name for e in step.events], step.phase, step.backoff, step.hold)
        assert got == (row.events, row.phase, row.backoff, row.hold), (i, row)
        assert step.wants_evidence is row.hold
        assert not step.probe_now


def test_a_held_result_leaves_the_state_exactly_as_it_was() -> None:
    core = fleet_core()
    observe(core, "a", Observation(Oc.TIMEOUT), 0.0)
    observe(core, "a", Observation(Oc.TIMEOUT), 10.0)
    before = core.state.to_dict()
    step = observe(core, "a", Observation(Oc.TIMEOUT), 20.0)
    assert step.hold
    assert core.state.to_dict() == before


def test_with_the_guard_off_the_same_failure_takes_the_provider_down() -> None:
    core = fleet_core(guard=False)
    names = [
        [e.name for e in observe(core, "a", Observation(Oc.TIMEOUT), t).events]
        for t in (0.0, 10.0, 20.0)
    ]
    assert names[-1] == DOWN


def test_a_rate_limit_carries_its_retry_after_as_the_time_to_resume() -> None:
    core = fleet_core()
    step = observe(core, "a", Observation(Oc.RATE_LIMITED, retry_after=30.0), 100.0)
    assert step.resume_at == 130.0


def test_a_provider_back_to_healthy_forgets_its_backoff() -> None:
    core = fleet_core()
    observe(core, "a", Observation(Oc.AUTH_INVALID), 0.0)
    observe(core, "a", Observation(Oc.AUTH_INVALID), 10.0)
    steps = [observe(core, "a", Observation(Oc.OK), 20.0 + 10.0 * i) for i in range(8)]
    assert steps[-1].phase is Phase.HEALTHY
    assert steps[-1].backoff == 0
    assert "a" not in core.down_probes


def test_forget_drops_the_cores_memory_of_a_provider() -> None:
    core = fleet_core()
    observe(core, "a", Observation(Oc.AUTH_INVALID), 0.0)
    observe(core, "a", Observation(Oc.TIMEOUT), 5.0)
    core.forget("a")
    assert "a" not in core.down_probes
    assert "a" not in core.guard.streak_started


scores = st.floats(0.0, 1.0)
states = st.builds(
    ProviderState,
    available=st.booleans(),
    auth_valid=st.booleans(),
    availability_score=scores,
    consecutive_failures=st.integers(0, 5),
    consecutive_successes=st.integers(0, 5),
    loading_since=st.none() | st.floats(0.0, 1000.0),
)


@given(states, st.sampled_from(list(Outcome)), st.floats(1000.0, 2000.0))
def test_a_planned_change_predicts_exactly_the_health_that_applying_it_gives(
    state: ProviderState, outcome: Outcome, now: float
) -> None:
    change = plan_probe(state, False, outcome, now, DEFAULT_POLICY)
    change.apply(state, now, outcome, None)
    assert change.healthy(DEFAULT_POLICY) == state.is_healthy(DEFAULT_POLICY)
