"""Properties of every reachable state: random meshes driven by random outcome sequences."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from modelmesh_healthd.state import (
    DEFAULT_POLICY,
    PROVIDER_REASONS,
    ConnectivityGuard,
    HealthCore,
    Mesh,
    ModelReactivated,
    Observation,
    Outcome,
    ProviderState,
    Snapshot,
    SystemState,
    apply_probe,
    initial_state,
    observe,
    reconcile,
)


@st.composite
def meshes(draw: st.DrawFn) -> Mesh:
    providers = [f"p{i}" for i in range(draw(st.integers(1, 4)))]
    models: dict[str, str] = {}
    for p in providers:
        for j in range(draw(st.integers(0, 3))):
            models[f"{p}.m{j}"] = p
    names = sorted(models)
    members = st.lists(st.sampled_from(names), unique=True) if names else st.just([])
    pools = {f"pool{k}": draw(members) for k in range(draw(st.integers(0, 3)))}
    disabled = draw(st.lists(st.sampled_from(names), unique=True, max_size=2)) if names else []
    return Mesh.build(providers, models, pools, disabled)


# Strategies built once, not per step: building and validating a strategy costs far more than
# drawing from it, and a scenario draws up to 40 steps.
OUTCOMES = st.sampled_from(list(Outcome))
RETRY_AFTER = st.none() | st.floats(0, 3600)
MODEL_OUTCOMES = st.sampled_from([Outcome.OK, Outcome.MODEL_NOT_FOUND])


@st.composite
def steps(draw: st.DrawFn, mesh: Mesh) -> list[tuple[str, Observation]]:
    out = []
    providers = st.sampled_from(mesh.providers)
    checks_of = {
        provider: st.dictionaries(st.sampled_from(own), MODEL_OUTCOMES) if own else st.just({})
        for provider, own in mesh.provider_models.items()
    }
    for _ in range(draw(st.integers(0, 40))):
        provider = draw(providers)
        checks = draw(checks_of[provider])
        outcome = draw(OUTCOMES)
        retry = draw(RETRY_AFTER)
        out.append(
            (provider, Observation(outcome, latency=0.1, retry_after=retry, model_outcomes=checks))
        )
    return out


def check_invariants(mesh: Mesh, state: SystemState) -> None:
    for provider, ps in state.providers.items():
        assert 0.0 <= ps.availability_score <= 1.0
        models = mesh.provider_models[provider]
        assert ps.active_model_count == sum(state.models[m].is_active for m in models)
        if not ps.is_healthy():
            for m in models:
                assert not state.models[m].is_active
    for pool, members in mesh.pools.items():
        ps = state.pools[pool]
        assert not (ps.active_models & ps.standby_models)
        assert ps.active_models | ps.standby_models == set(members)
        for m in members:
            assert (m in ps.active_models) == state.models[m].is_active
    for model in mesh.disabled:
        assert state.models[model].deactivation_reason == "manual"
    for ms in state.models.values():
        assert (ms.deactivation_reason is None) == ms.is_active


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Mesh, list[tuple[str, Observation]]]:
    mesh = draw(meshes())
    return mesh, draw(steps(mesh))


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_invariants_hold_in_every_reachable_state(
    scenario: tuple[Mesh, list[tuple[str, Observation]]],
) -> None:
    # Through `observe`, the daemon's path: the connectivity guard holds some results back.
    mesh, sequence = scenario
    state = initial_state(mesh)
    guard = ConnectivityGuard(enabled=True, min_providers=1)
    core = HealthCore(mesh, state, DEFAULT_POLICY, guard, fleet=len(mesh.providers))
    check_invariants(mesh, state)
    for i, (provider, obs) in enumerate(sequence):
        before = {m: ms.deactivation_reason for m, ms in state.models.items()}
        events = observe(core, provider, obs, float(i)).events
        check_invariants(mesh, state)
        for e in events:
            if isinstance(e, ModelReactivated):
                # Only the provider rule's reasons and a model found again are ever undone.
                assert before[e.model] in PROVIDER_REASONS | {"model_not_found"}


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_every_reachable_state_round_trips_through_a_json_snapshot(
    scenario: tuple[Mesh, list[tuple[str, Observation]]],
) -> None:
    mesh, sequence = scenario
    state = initial_state(mesh)
    for i, (provider, obs) in enumerate(sequence):
        apply_probe(mesh, state, provider, obs, 1000.0 + i)
    wire = json.loads(json.dumps(Snapshot(state, 1.0, "test", 7).to_dict()))
    assert Snapshot.from_dict(wire).state == state
    for ps in state.providers.values():
        assert ProviderState.from_dict(ps.to_dict()) == ps


@settings(max_examples=200, deadline=None)
@given(scenarios(), meshes())
def test_reconciling_to_any_mesh_restores_the_invariants(
    scenario: tuple[Mesh, list[tuple[str, Observation]]], other: Mesh
) -> None:
    mesh, sequence = scenario
    state = initial_state(mesh)
    for i, (provider, obs) in enumerate(sequence):
        apply_probe(mesh, state, provider, obs, float(i))
    new, _ = reconcile(other, state, 99.0)
    check_invariants(other, new)
