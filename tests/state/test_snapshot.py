"""The snapshot envelope: checksum, schema version, migration of ModelMesh's bare state."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest

from modelmesh_healthd.state import (
    SCHEMA_VERSION,
    Mesh,
    Observation,
    Outcome,
    Snapshot,
    SnapshotError,
    SystemState,
    apply_probe,
    initial_state,
)


def envelope() -> dict[str, Any]:
    mesh = Mesh.build(["a"], {"a.x": "a"}, {"chat": ["a.x"]})
    state = initial_state(mesh)
    apply_probe(mesh, state, "a", Observation(Outcome.AUTH_INVALID), 10.0)
    return Snapshot(state, written_at=11.0, writer_id="host:1:main", epoch=3).to_dict()


def test_envelope_carries_version_writer_epoch_and_checksum() -> None:
    data = envelope()
    assert data["schema_version"] == SCHEMA_VERSION
    assert (data["writer_id"], data["epoch"], data["written_at"]) == ("host:1:main", 3, 11.0)
    assert data["checksum"].startswith("sha256:")
    assert Snapshot.from_dict(data).state.providers["a"].down_reason == "auth_failure"


def altered(mutate: Any) -> dict[str, Any]:
    data = copy.deepcopy(envelope())
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "snapshot must be an object"),
        ({}, "snapshot has no 'schema_version'"),
        (altered(lambda d: d["state"]["providers"]["a"].update(available=True)), "checksum"),
        (altered(lambda d: d.update(schema_version=SCHEMA_VERSION + 1)), "unknown schema version"),
        (altered(lambda d: d.update(schema_version="1")), "schema_version must be an integer"),
        (altered(lambda d: d.pop("checksum")), "no 'checksum'"),
        (altered(lambda d: d.update(epoch=1.5)), "epoch must be an integer"),
    ],
)
def test_a_snapshot_that_must_not_load_is_refused_with_the_reason(data: Any, message: str) -> None:
    with pytest.raises(SnapshotError, match=message):
        Snapshot.from_dict(data)


def test_a_row_that_does_not_parse_is_named() -> None:
    data = copy.deepcopy(envelope())
    data["state"]["models"]["a.x"]["status"] = "sleeping"
    from modelmesh_healthd.state import checksum_of

    data["checksum"] = checksum_of(data["state"])
    with pytest.raises(SnapshotError, match=r"models\['a.x'\].*status"):
        Snapshot.from_dict(data)


def test_modelmesh_bare_camel_case_state_is_migrated() -> None:
    bare = {
        "models": {"a.x": {"status": "standby", "failureCount": 2, "deactivationReason": "manual"}},
        "providers": {"a": {"available": True, "authValid": True, "availabilityScore": 0.9}},
        "pools": {"chat": {"activeModels": [], "standbyModels": ["a.x"], "rotationCount": 4}},
        "timestamp": 1700000000.0,
    }
    snap = Snapshot.from_dict(bare)
    assert snap.state.models["a.x"].failure_count == 2
    assert snap.state.pools["chat"].standby_models == {"a.x"}
    assert snap.state.pools["chat"].rotation_count == 4
    assert snap.writer_id == "modelmesh"
    assert snap.state.providers["a"].availability_score == 0.9


def test_a_restored_state_shares_its_common_values_like_a_fresh_one() -> None:
    mesh = Mesh.build(["p", "q"], {"p.a": "p", "p.b": "p", "q.c": "q"}, {"chat": ["p.a", "q.c"]})
    fresh = initial_state(mesh)
    fresh.providers["q"].last_outcome = "rate_limited"
    restored = SystemState.from_dict(json.loads(json.dumps(fresh.to_dict())))
    a, b, c = (restored.models[m] for m in ("p.a", "p.b", "q.c"))
    assert a.status is b.status is c.status  # one "active", not one per model
    assert a.error_rate is b.cost_accumulated is c.cooldown_remaining  # one 0.0
    assert restored.providers["p"].availability_score is restored.providers["q"].availability_score
    assert restored.providers["q"].last_outcome == "rate_limited"
    assert restored.to_dict() == fresh.to_dict()


def test_negative_zero_survives_a_round_trip() -> None:
    mesh = Mesh.build(["p"], {"p.a": "p"})
    state = initial_state(mesh)
    state.models["p.a"].cost_accumulated = -0.0
    restored = SystemState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert math.copysign(1.0, restored.models["p.a"].cost_accumulated) == -1.0
