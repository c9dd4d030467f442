"""apply_probe: outcome sequences in, provider states and events out (table-driven)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from modelmesh_healthd.state import (
    Mesh,
    Observation,
    Outcome,
    SystemState,
    apply_probe,
    initial_state,
)

Oc = Outcome


def small_mesh() -> Mesh:
    return Mesh.build(
        providers=["openai", "anthropic"],
        models={
            "openai.gpt-4o": "openai",
            "openai.mini": "openai",
            "anthropic.sonnet": "anthropic",
        },
        pools={
            "chat": ["openai.gpt-4o", "anthropic.sonnet"],
            "cheap": ["openai.mini"],
        },
    )


def run(mesh: Mesh, state: SystemState, outcomes: list[Outcome], start: float = 0.0) -> list[str]:
    """Apply outcomes to `openai` ten seconds apart; return the transition event names."""
    names: list[str] = []
    for i, outcome in enumerate(outcomes):
        events = apply_probe(mesh, state, "openai", Observation(outcome), start + 10.0 * i)
        names.extend(e.name for e in events if e.name != "probe.completed")
    return names


@dataclass(frozen=True)
class Case:
    name: str
    outcomes: list[Outcome]
    healthy: bool
    reason: str | None
    transitions: list[str]


DOWN = ["provider.down", "model.deactivated", "model.deactivated", "pool.empty"]
UP = ["provider.up", "model.reactivated", "model.reactivated", "pool.restored"]

CASES = [
    Case("one blip does nothing", [Oc.TIMEOUT, Oc.OK, Oc.OK], True, None, []),
    Case("two failures do not take it down", [Oc.SERVER_ERROR, Oc.CONNECT_ERROR], True, None, []),
    Case(
        "three failures take it down",
        [Oc.TIMEOUT, Oc.TIMEOUT, Oc.TIMEOUT],
        False,
        "provider_unavailable",
        DOWN,
    ),
    Case("a bad key takes it down at once", [Oc.AUTH_INVALID], False, "auth_failure", DOWN),
    Case(
        "exhausted quota takes it down at once",
        [Oc.QUOTA_EXHAUSTED],
        False,
        "quota_exhausted",
        DOWN,
    ),
    Case("rate limits never take it down", [Oc.RATE_LIMITED] * 20, True, None, []),
    Case("loading is not an outage", [Oc.LOADING] * 10, True, None, ["provider.loading"]),
    Case("a missing model leaves the provider up", [Oc.MODEL_NOT_FOUND] * 5, True, None, []),
    Case(
        "one lucky success during an outage does not bring it back",
        [Oc.TIMEOUT] * 6 + [Oc.OK, Oc.TIMEOUT],
        False,
        "provider_unavailable",
        DOWN,
    ),
    Case(
        "sustained successes bring it back",
        [Oc.TIMEOUT] * 3 + [Oc.OK] * 3,
        True,
        None,
        DOWN + UP,
    ),
    Case(
        "a fixed key brings it back after two successes",
        [Oc.AUTH_INVALID, Oc.OK, Oc.OK],
        True,
        None,
        DOWN + UP,
    ),
    Case(
        "an outage that turns into a bad key changes the reason",
        [Oc.TIMEOUT] * 3 + [Oc.AUTH_INVALID],
        False,
        "auth_failure",
        [*DOWN, "provider.reason_changed"],
    ),
    Case(
        "degraded answers count as success",
        [Oc.TIMEOUT, Oc.DEGRADED, Oc.TIMEOUT, Oc.DEGRADED],
        True,
        None,
        [],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_outcome_sequence(case: Case) -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    transitions = run(mesh, state, case.outcomes)
    ps = state.providers["openai"]
    assert ps.is_healthy() is case.healthy
    assert ps.down_reason == case.reason
    assert transitions == case.transitions
    for model in mesh.provider_models["openai"]:
        ms = state.models[model]
        assert ms.is_active is case.healthy
        assert ms.deactivation_reason == case.reason


def test_down_event_carries_the_transition_fields() -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    bad_key = Observation(Oc.AUTH_INVALID, detail="HTTP 401")
    events = apply_probe(mesh, state, "openai", bad_key, 5.0)
    down = next(e for e in events if e.name == "provider.down")
    assert down.fields() == {
        "provider": "openai",
        "reason": "auth_failure",
        "outcome": "auth_invalid",
        "score": 0.75,
        "detail": "HTTP 401",
        "from": "up",
        "to": "down",
    }


def test_up_event_says_how_long_the_provider_was_down() -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    apply_probe(mesh, state, "openai", Observation(Oc.AUTH_INVALID), 100.0)
    apply_probe(mesh, state, "openai", Observation(Oc.OK), 130.0)
    events = apply_probe(mesh, state, "openai", Observation(Oc.OK), 160.0)
    up = next(e for e in events if e.name == "provider.up")
    assert up.fields()["down_for_s"] == 60.0


def test_a_rate_limit_records_when_probing_may_resume() -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    apply_probe(mesh, state, "openai", Observation(Oc.RATE_LIMITED, retry_after=30.0), 1000.0)
    assert state.providers["openai"].throttled_until == 1030.0
    apply_probe(mesh, state, "openai", Observation(Oc.OK), 1031.0)
    assert state.providers["openai"].throttled_until is None


@pytest.mark.parametrize(
    ("outcome", "level"),
    [(Oc.OK, "debug"), (Oc.DEGRADED, "info"), (Oc.TIMEOUT, "info"), (Oc.RATE_LIMITED, "info")],
)
def test_healthy_probes_log_at_debug_and_everything_else_at_info(
    outcome: Outcome, level: str
) -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    (completed,) = apply_probe(mesh, state, "openai", Observation(outcome), 1.0)
    assert completed.log_level == level


def test_state_timestamp_follows_the_last_probe() -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    apply_probe(mesh, state, "anthropic", Observation(Oc.OK), 42.0)
    assert state.timestamp == 42.0
    assert state.providers["anthropic"].last_probe == 42.0
