"""Fan-out across pools: several providers, overlapping pools, models already in manual standby."""

from __future__ import annotations

from modelmesh_healthd.state import (
    Mesh,
    ModelDeactivated,
    ModelReactivated,
    Observation,
    Outcome,
    PoolEmpty,
    PoolRestored,
    SystemState,
    apply_probe,
    initial_state,
    reconcile,
)

Oc = Outcome


def fleet() -> Mesh:
    return Mesh.build(
        providers=["openai", "anthropic", "groq"],
        models={
            "openai.gpt-4o": "openai",
            "openai.mini": "openai",
            "openai.embed": "openai",
            "anthropic.sonnet": "anthropic",
            "groq.llama": "groq",
        },
        pools={
            "chat": ["openai.gpt-4o", "openai.mini", "anthropic.sonnet", "groq.llama"],
            "fast": ["openai.mini", "groq.llama"],
            "embeddings": ["openai.embed"],
            "premium": ["openai.gpt-4o", "anthropic.sonnet"],
        },
        disabled=["openai.mini"],
    )


def take_down(mesh: Mesh, state: SystemState, provider: str, at: float = 0.0) -> list[object]:
    return apply_probe(mesh, state, provider, Observation(Oc.AUTH_INVALID), at)


def bring_up(mesh: Mesh, state: SystemState, provider: str, at: float = 100.0) -> list[object]:
    events: list[object] = []
    for i in range(5):
        events += apply_probe(mesh, state, provider, Observation(Oc.OK), at + i)
    return events


def where(state: SystemState, model: str) -> dict[str, str]:
    out = {}
    for name, pool in state.pools.items():
        if model in pool.active_models:
            out[name] = "active"
        if model in pool.standby_models:
            out[name] = "standby"
    return out


def test_configured_manual_standby_starts_in_standby_everywhere() -> None:
    state = initial_state(fleet())
    mini = state.models["openai.mini"]
    assert (mini.status, mini.deactivation_reason) == ("standby", "manual")
    assert where(state, "openai.mini") == {"chat": "standby", "fast": "standby"}
    assert state.providers["openai"].active_model_count == 2


def test_provider_down_moves_every_active_model_to_standby_in_every_pool() -> None:
    mesh = fleet()
    state = initial_state(mesh)
    events = take_down(mesh, state, "openai")
    assert where(state, "openai.gpt-4o") == {"chat": "standby", "premium": "standby"}
    assert where(state, "openai.embed") == {"embeddings": "standby"}
    deactivated = {(e.model, e.pool) for e in events if isinstance(e, ModelDeactivated)}
    assert deactivated == {
        ("openai.gpt-4o", "chat"),
        ("openai.gpt-4o", "premium"),
        ("openai.embed", "embeddings"),
    }
    assert {e.pool for e in events if isinstance(e, PoolEmpty)} == {"embeddings"}
    assert state.providers["openai"].active_model_count == 0


def test_a_manually_disabled_model_keeps_its_reason_through_an_outage_and_recovery() -> None:
    mesh = fleet()
    state = initial_state(mesh)
    take_down(mesh, state, "openai")
    assert state.models["openai.mini"].deactivation_reason == "manual"
    events = bring_up(mesh, state, "openai")
    assert state.models["openai.mini"].deactivation_reason == "manual"
    assert where(state, "openai.mini") == {"chat": "standby", "fast": "standby"}
    reactivated = {(e.model, e.pool) for e in events if isinstance(e, ModelReactivated)}
    assert ("openai.mini", "chat") not in reactivated
    assert reactivated == {
        ("openai.gpt-4o", "chat"),
        ("openai.gpt-4o", "premium"),
        ("openai.embed", "embeddings"),
    }
    assert {e.pool for e in events if isinstance(e, PoolRestored)} == {"embeddings"}


def test_other_providers_models_are_untouched() -> None:
    mesh = fleet()
    state = initial_state(mesh)
    take_down(mesh, state, "openai")
    assert where(state, "anthropic.sonnet") == {"chat": "active", "premium": "active"}
    assert where(state, "groq.llama") == {"chat": "active", "fast": "active"}


def test_a_pool_empties_only_when_its_last_provider_goes() -> None:
    mesh = fleet()
    state = initial_state(mesh)
    take_down(mesh, state, "openai")
    events = take_down(mesh, state, "anthropic")
    assert [e.pool for e in events if isinstance(e, PoolEmpty)] == ["premium"]
    assert state.pools["chat"].active_models == {"groq.llama"}


def test_rotation_count_and_time_record_each_move() -> None:
    mesh = fleet()
    state = initial_state(mesh)
    take_down(mesh, state, "openai", at=50.0)
    premium = state.pools["premium"]
    assert (premium.rotation_count, premium.last_rotation) == (1, 50.0)


def test_a_missing_model_goes_to_standby_alone_and_comes_back_when_found() -> None:
    mesh = fleet()
    state = initial_state(mesh)
    missing = Observation(Oc.OK, model_outcomes={"openai.gpt-4o": Oc.MODEL_NOT_FOUND})
    events = apply_probe(mesh, state, "openai", missing, 1.0)
    assert state.models["openai.gpt-4o"].deactivation_reason == "model_not_found"
    assert state.models["openai.embed"].is_active
    assert {e.pool for e in events if isinstance(e, ModelDeactivated)} == {"chat", "premium"}
    found = Observation(Oc.OK, model_outcomes={"openai.gpt-4o": Oc.OK})
    apply_probe(mesh, state, "openai", found, 2.0)
    assert state.models["openai.gpt-4o"].is_active
    assert where(state, "openai.gpt-4o") == {"chat": "active", "premium": "active"}


def test_a_down_provider_with_a_missing_model_recovers_without_that_model() -> None:
    mesh = fleet()
    state = initial_state(mesh)
    take_down(mesh, state, "openai")
    # What the probe reports when the provider's list lacks a configured model.
    missing = Observation(Oc.MODEL_NOT_FOUND, model_outcomes={"openai.gpt-4o": Oc.MODEL_NOT_FOUND})
    for i in range(5):
        apply_probe(mesh, state, "openai", missing, 10.0 + i)
    assert state.providers["openai"].is_healthy()
    assert state.models["openai.gpt-4o"].deactivation_reason == "model_not_found"
    assert state.models["openai.embed"].is_active


def test_a_model_check_for_another_providers_model_is_ignored() -> None:
    mesh = fleet()
    state = initial_state(mesh)
    stray = Observation(Oc.OK, model_outcomes={"anthropic.sonnet": Oc.MODEL_NOT_FOUND})
    apply_probe(mesh, state, "openai", stray, 1.0)
    assert state.models["anthropic.sonnet"].is_active


def test_reconcile_keeps_unchanged_state_adds_new_and_drops_removed() -> None:
    mesh = fleet()
    state = initial_state(mesh)
    take_down(mesh, state, "openai")
    smaller = Mesh.build(
        providers=["openai", "mistral"],
        models={"openai.gpt-4o": "openai", "mistral.large": "mistral"},
        pools={"chat": ["openai.gpt-4o", "mistral.large"]},
    )
    new, events = reconcile(smaller, state, 200.0)
    assert new.providers["openai"] is state.providers["openai"]
    assert not new.providers["openai"].is_healthy()
    assert new.models["openai.gpt-4o"].deactivation_reason == "auth_failure"
    assert new.pools["chat"].active_models == {"mistral.large"}
    names = {(e.name, e.fields().get("provider") or e.fields().get("model")) for e in events}
    assert ("provider.added", "mistral") in names
    assert ("provider.removed", "anthropic") in names
    assert ("model.removed", "openai.embed") in names
    assert set(new.providers) == {"openai", "mistral"}


def test_reconcile_enforces_standby_for_a_restored_unhealthy_provider() -> None:
    mesh = fleet()
    restored = initial_state(mesh)
    restored.providers["groq"].available = False  # e.g. written by ModelMesh without fan-out
    new, events = reconcile(mesh, restored, 10.0)
    assert new.models["groq.llama"].deactivation_reason == "provider_unavailable"
    assert where(new, "groq.llama") == {"chat": "standby", "fast": "standby"}
    assert any(isinstance(e, ModelDeactivated) and e.model == "groq.llama" for e in events)


def test_reconcile_reenables_a_model_the_configuration_no_longer_disables() -> None:
    mesh = fleet()
    state = initial_state(mesh)
    enabled = Mesh.build(
        providers=mesh.providers,
        models=dict(mesh.model_provider),
        pools={k: list(v) for k, v in mesh.pools.items()},
    )
    new, _ = reconcile(enabled, state, 10.0)
    assert new.models["openai.mini"].is_active
    assert new.providers["openai"].active_model_count == 3
