"""The row codec: rows are the canonical JSON of each entity, and they decode back exactly."""

from __future__ import annotations

from storage_support import probe_step, small_mesh

from modelmesh_healthd.state import (
    Observation,
    Outcome,
    SystemState,
    apply_probe,
    canonical_json,
    initial_state,
)
from modelmesh_healthd.storage.base import Envelope
from modelmesh_healthd.storage.decode import decode_store
from modelmesh_healthd.storage.rows import all_rows, make_batch


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
