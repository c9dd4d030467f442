"""PoolSync on a real modelmesh-lite ModelMesh: what it puts on standby, adopts and gives back."""

from __future__ import annotations

from typing import Any

import pytest
from mm_support import A, B, make_mesh, statuses
from modelmesh.core.event_emitter import Event, EventType

from modelmesh_healthd.integrations.modelmesh import PoolSync, modelmesh_reason


def fail(mesh: Any, pool: str, model: str, times: int) -> None:
    for _ in range(times):
        mesh.pools[pool].record_failure(model, RuntimeError("HTTP Error 500"))


def test_a_model_the_daemon_holds_in_standby_is_on_standby_in_every_pool() -> None:
    mesh = make_mesh()
    changes = PoolSync(mesh).apply({A: "provider_unavailable"})
    assert statuses(mesh) == {
        "chat": {A: "standby", B: "active"},
        "fallback": {B: "active", A: "standby"},
    }
    assert {(c.pool, c.action) for c in changes} == {
        ("chat", "deactivated"),
        ("fallback", "deactivated"),
    }


def test_a_model_the_daemon_restores_is_reactivated_in_every_pool() -> None:
    mesh = make_mesh()
    sync = PoolSync(mesh)
    sync.apply({A: "provider_unavailable"})
    changes = sync.apply({})
    assert statuses(mesh)["chat"] == {A: "active", B: "active"}
    assert statuses(mesh)["fallback"] == {B: "active", A: "active"}
    assert {c.action for c in changes} == {"reactivated"}
    assert sync.ours == set()


def test_modelmeshs_own_failure_standby_is_adopted_and_ended_by_the_daemons_recovery() -> None:
    mesh = make_mesh()
    fail(mesh, "chat", A, 3)  # modelmesh-lite's own threshold: standby, never reactivated
    sync = PoolSync(mesh)
    adopted = sync.apply({A: "provider_unavailable"})
    assert ("chat", A, "adopted") in {(c.pool, c.model, c.action) for c in adopted}
    sync.apply({})
    assert statuses(mesh)["chat"][A] == "active"


def test_an_operators_standby_is_never_reactivated() -> None:
    mesh = make_mesh()
    mesh.rotate("chat")  # the operator takes A out by hand (no failures behind it)
    sync = PoolSync(mesh)
    sync.apply({A: "provider_unavailable"})
    sync.apply({})
    assert statuses(mesh)["chat"][A] == "standby"


def test_a_standby_modelmesh_made_while_the_daemon_finds_the_model_healthy_stays() -> None:
    mesh = make_mesh()
    fail(mesh, "chat", A, 3)
    PoolSync(mesh).apply({})
    assert statuses(mesh)["chat"][A] == "standby"


def test_release_gives_back_only_what_the_sync_caused() -> None:
    mesh = make_mesh()
    mesh.rotate("fallback")  # operator: B out of "fallback"
    sync = PoolSync(mesh)
    sync.apply({A: "provider_unavailable"})
    released = sync.release()
    assert statuses(mesh) == {
        "chat": {A: "active", B: "active"},
        "fallback": {B: "standby", A: "active"},
    }
    assert {(c.pool, c.model) for c in released} == {("chat", A), ("fallback", A)}


def test_a_model_reactivated_by_someone_else_is_forgotten_not_touched() -> None:
    mesh = make_mesh()
    sync = PoolSync(mesh)
    sync.apply({A: "provider_unavailable"})
    mesh.pools["chat"].reactivate(A)  # an operator brings it back in one pool
    released = sync.release()
    assert {(c.pool, c.model) for c in released} == {("fallback", A)}
    assert statuses(mesh)["chat"][A] == "active"


def test_changes_reach_modelmeshs_own_event_subscribers_in_its_words() -> None:
    mesh = make_mesh()
    seen: list[Event] = []
    mesh.event_emitter.on(None, seen.append)
    sync = PoolSync(mesh)
    sync.apply({A: "quota_exhausted"})
    sync.apply({})
    kinds = [(e.type, e.data.get("reason")) for e in seen if e.data.get("pool_id") == "chat"]
    assert kinds == [
        (EventType.MODEL_DEACTIVATED, "quota_exhausted"),
        (EventType.MODEL_REACTIVATED, None),
    ]


@pytest.mark.parametrize(
    ("daemon", "modelmesh_word"),
    [
        ("provider_unavailable", "error_threshold"),
        ("auth_failure", "error_threshold"),
        ("model_not_found", "error_threshold"),
        ("quota_exhausted", "quota_exhausted"),
        ("manual", "manual"),
        (None, "error_threshold"),
    ],
)
def test_daemon_reasons_map_to_modelmeshs_deactivation_words(
    daemon: str | None, modelmesh_word: str
) -> None:
    from modelmesh.interfaces.rotation import DeactivationReason

    assert DeactivationReason(modelmesh_reason(daemon)).value == modelmesh_word
