"""The row codec: rows are the canonical JSON of each entity, and they decode back exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from storage_support import probe_step, small_mesh

from modelmesh_healthd.state import (
    Mesh,
    Observation,
    Outcome,
    SystemState,
    apply_probe,
    canonical_json,
    initial_state,
)
from modelmesh_healthd.storage.base import Envelope
from modelmesh_healthd.storage.row_decode import decode_store
from modelmesh_healthd.storage.row_encode import all_rows, make_batch, row_for


def _busy_state() -> SystemState:
    mesh = small_mesh()
    state = initial_state(mesh)
    for step in range(60):
        probe_step(mesh, state, step, 1_000.0 + step / 3)
    apply_probe(
        mesh, state, "p2", Observation(Outcome.AUTH_INVALID, detail='clé refusée "401"'), 2e3
    )
    state.models["p0/m1"].latency_history.extend([0.25, 1e-05, 3.0])
    return state


def test_a_provider_row_is_the_canonical_json_of_the_provider_and_its_models() -> None:
    mesh = small_mesh()
    state = _busy_state()
    rows = {r.key: r.data for r in all_rows(state, mesh) if r.kind == "provider"}
    for provider in mesh.providers:
        expected = {
            "models": {m: state.models[m].to_dict() for m in mesh.provider_models[provider]},
            "provider": state.providers[provider].to_dict(),
        }
        assert rows[provider] == canonical_json(expected).decode()


def test_rows_decode_back_to_the_same_state() -> None:
    state = _busy_state()
    batch = make_batch(
        Envelope(1, 5.0, "w", 3, state.timestamp), all_rows(state, small_mesh()), replace=True
    )
    decoded = decode_store(
        (batch.meta_data, batch.meta_checksum),
        [(r.kind, r.key, r.data or "", r.checksum or "") for r in batch.rows],
    )
    assert decoded.bad_rows == []
    assert decoded.snapshot is not None
    assert decoded.snapshot.state.to_dict() == state.to_dict()
    assert (decoded.snapshot.epoch, decoded.snapshot.writer_id) == (3, "w")


def test_a_row_under_another_key_fails_its_checksum() -> None:
    state = _busy_state()
    batch = make_batch(Envelope(1, 5.0, "w", 3, None), all_rows(state, small_mesh()), replace=True)
    raw = [(r.kind, r.key, r.data or "", r.checksum or "") for r in batch.rows]
    p0 = next(r for r in raw if r[:2] == ("provider", "p0"))
    raw = [r for r in raw if r[:2] != ("provider", "p1")] + [("provider", "p1", p0[2], p0[3])]
    decoded = decode_store((batch.meta_data, batch.meta_checksum), raw)
    assert decoded.bad_rows == [("provider", "p1", "checksum mismatch: altered or torn")]


_floats = st.floats(allow_nan=False, allow_infinity=False)
_maybe_floats = st.none() | _floats
_texts = st.text(max_size=20)


@given(
    score=st.floats(min_value=0.0, max_value=1.0),
    last_probe=_maybe_floats,
    detail=st.none() | _texts,
    cost=_floats,
    latencies=st.lists(_floats, max_size=5),
    reason=st.none() | _texts,
    model_id=st.text(min_size=1, max_size=12),
)
def test_any_entity_values_round_trip_through_rows(
    *,
    score: float,
    last_probe: float | None,
    detail: str | None,
    cost: float,
    latencies: list[float],
    reason: str | None,
    model_id: str,
) -> None:
    mesh = Mesh.build(["p"], {model_id: "p"}, {"pool": [model_id]})
    state = initial_state(mesh)
    provider = state.providers["p"]
    provider.availability_score, provider.last_probe, provider.last_detail = (
        score,
        last_probe,
        detail,
    )
    model = state.models[model_id]
    model.cost_accumulated, model.latency_history, model.deactivation_reason = (
        cost,
        latencies,
        reason,
    )
    batch = make_batch(Envelope(1, 1.0, "w", 1, None), all_rows(state, mesh), replace=True)
    decoded = decode_store(
        (batch.meta_data, batch.meta_checksum),
        [(r.kind, r.key, r.data or "", r.checksum or "") for r in batch.rows],
    )
    assert decoded.bad_rows == []
    assert decoded.snapshot is not None
    assert canonical_json(decoded.snapshot.state.to_dict()) == canonical_json(state.to_dict())


_values = st.sampled_from([0.0, -0.0, 0, 1.0, 2.5, 1e-05, None])


@given(
    changes=st.lists(
        st.tuples(
            st.integers(0, 11),
            st.sampled_from(["error_rate", "cost_accumulated", "deactivated_at", "last_request"]),
            _values,
        ),
        max_size=20,
    ),
    latencies=st.lists(st.integers(0, 11), max_size=3),
)
def test_a_full_save_writes_each_row_as_a_single_row_write_would(
    changes: list[tuple[int, str, float | None]], latencies: list[int]
) -> None:
    # Models holding the same value objects share their JSON in a full save; values that are
    # equal but not the same (0 and 0.0, 0.0 and -0.0) must still be written as they are.
    ids = [f"p{i // 4}.m{i % 4}" for i in range(12)]
    mesh = Mesh.build(["p0", "p1", "p2"], {m: m.split(".")[0] for m in ids}, {"pool": ids})
    state = initial_state(mesh)
    for index, name, value in changes:
        if value is None and name in ("error_rate", "cost_accumulated"):
            continue
        setattr(state.models[ids[index]], name, value)
    for index in latencies:
        state.models[ids[index]].latency_history.append(0.5)
    full = {(r.kind, r.key): r for r in all_rows(state, mesh)}
    for provider in mesh.providers:
        assert full[("provider", provider)] == row_for(state, mesh, "provider", provider)


@given(
    rounds=st.lists(
        st.lists(
            st.tuples(
                st.integers(0, 5),
                st.sampled_from(["error_rate", "deactivated_at", "status", "failure_count"]),
                st.sampled_from([0.0, -0.0, 0, 1.0, 2.5, None, "active", "standby"]),
            ),
            max_size=4,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_a_provider_row_follows_each_change_of_its_models_from_one_write_to_the_next(
    rounds: list[list[tuple[int, str, object]]],
) -> None:
    # Models' JSON is shared between rows and writes while their fields hold the same values;
    # a model changed (in place) since the last row must never come back as it was.
    ids = [f"p{i // 3}.m{i % 3}" for i in range(6)]
    mesh = Mesh.build(["p0", "p1"], {m: m.split(".")[0] for m in ids}, {"pool": ids})
    state = initial_state(mesh)
    for changes in rounds:
        for index, name, value in changes:
            setattr(state.models[ids[index]], name, value)
        for provider in mesh.providers:
            expected = canonical_json(
                {
                    "models": {
                        m: state.models[m].to_dict() for m in ids if m.startswith(f"{provider}.")
                    },
                    "provider": state.providers[provider].to_dict(),
                }
            ).decode()
            assert row_for(state, mesh, "provider", provider).data == expected
