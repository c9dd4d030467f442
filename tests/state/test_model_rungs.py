"""Per-model outcomes from the deeper rungs: one model to standby alone, its siblings stay."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmesh_healthd.state import Mesh, Observation, Outcome, apply_probe, initial_state

Oc = Outcome


def mesh() -> Mesh:
    return Mesh.build(
        providers=["anthropic"],
        models={"a.sonnet": "anthropic", "a.haiku": "anthropic"},
        pools={"chat": ["a.sonnet", "a.haiku"]},
    )


def seen(outcome: Outcome, sonnet: Outcome, haiku: Outcome = Oc.OK) -> Observation:
    return Observation(outcome, 0.1, model_outcomes={"a.sonnet": sonnet, "a.haiku": haiku})


@pytest.mark.parametrize(
    ("model_outcome", "reason"),
    [
        (Oc.OVERLOADED, "model_overloaded"),
        (Oc.LOADING, "model_loading"),
        (Oc.MODEL_NOT_FOUND, "model_not_found"),
    ],
)
def test_a_model_whose_rung_says_overloaded_loading_or_missing_goes_to_standby_alone(
    model_outcome: Outcome, reason: str
) -> None:
    m = mesh()
    state = initial_state(m)
    events = apply_probe(m, state, "anthropic", seen(Oc.OK, model_outcome), 10.0)
    assert state.models["a.sonnet"].status == "standby"
    assert state.models["a.sonnet"].deactivation_reason == reason
    assert state.models["a.haiku"].is_active
    assert state.providers["anthropic"].is_healthy()
    assert state.providers["anthropic"].active_model_count == 1
    assert state.pools["chat"].active_models == {"a.haiku"}
    deactivated = [e for e in events if e.name == "model.deactivated"]
    assert [(e.fields()["model"], e.fields()["reason"]) for e in deactivated] == [
        ("a.sonnet", reason)
    ]


def test_the_model_comes_back_when_its_own_rung_says_it_is_fine_again() -> None:
    m = mesh()
    state = initial_state(m)
    apply_probe(m, state, "anthropic", seen(Oc.OK, Oc.OVERLOADED), 10.0)
    events = apply_probe(m, state, "anthropic", seen(Oc.OK, Oc.OK), 20.0)
    assert state.models["a.sonnet"].is_active
    assert [e.name for e in events if e.name.startswith("model.")] == ["model.reactivated"]
    assert state.providers["anthropic"].active_model_count == 2


def test_the_providers_recovery_does_not_bring_back_a_model_still_overloaded_on_its_own() -> None:
    m = mesh()
    state = initial_state(m)
    apply_probe(m, state, "anthropic", seen(Oc.OK, Oc.OVERLOADED), 0.0)
    for t in (10.0, 20.0, 30.0):
        apply_probe(m, state, "anthropic", Observation(Oc.SERVER_ERROR), t)
    assert not state.providers["anthropic"].is_healthy()
    for t in (40.0, 50.0, 60.0, 70.0, 80.0):
        apply_probe(m, state, "anthropic", Observation(Oc.OK), t)
    assert state.providers["anthropic"].is_healthy()
    assert state.models["a.haiku"].is_active
    assert state.models["a.sonnet"].deactivation_reason == "model_overloaded"


def test_a_model_out_for_its_provider_that_is_found_overloaded_keeps_that_reason() -> None:
    m = mesh()
    state = initial_state(m)
    apply_probe(m, state, "anthropic", Observation(Oc.AUTH_INVALID), 0.0)
    apply_probe(m, state, "anthropic", seen(Oc.OK, Oc.OVERLOADED), 10.0)
    assert state.models["a.sonnet"].deactivation_reason == "model_overloaded"


_MODEL_OUTCOMES = st.sampled_from([Oc.OK, Oc.OVERLOADED, Oc.LOADING, Oc.MODEL_NOT_FOUND])


@given(st.lists(st.tuples(_MODEL_OUTCOMES, _MODEL_OUTCOMES), min_size=1, max_size=12))
def test_with_the_provider_fine_a_model_is_active_exactly_when_its_last_rung_said_ok(
    rungs: list[tuple[Outcome, Outcome]],
) -> None:
    m = mesh()
    state = initial_state(m)
    for i, (sonnet, haiku) in enumerate(rungs):
        apply_probe(m, state, "anthropic", seen(Oc.OK, sonnet, haiku), float(i))
    last_sonnet, last_haiku = rungs[-1]
    assert state.models["a.sonnet"].is_active == (last_sonnet is Oc.OK)
    assert state.models["a.haiku"].is_active == (last_haiku is Oc.OK)
    active = sum(state.models[x].is_active for x in ("a.sonnet", "a.haiku"))
    assert state.providers["anthropic"].active_model_count == active
    assert state.pools["chat"].active_models | state.pools["chat"].standby_models == {
        "a.sonnet",
        "a.haiku",
    }
