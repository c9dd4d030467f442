"""Corrupt data at load: set aside (never overwritten), reported, and the daemon starts anyway."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from raw_store_support import RawStore, valid_checksum
from storage_support import consistency_errors, read_bytes, small_mesh
from structlog.testing import capture_logs

from modelmesh_healthd.state import Observation, Outcome, apply_probe, initial_state, reconcile
from modelmesh_healthd.storage import StateManager, open_store, read_snapshot
from modelmesh_healthd.storage.row_encode import ROW_LAYOUT, encode_json

ROW_BACKENDS = ("memory", "sqlite", "redis", "postgres")


async def _write_good_state(url: str) -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    for _ in range(4):
        apply_probe(mesh, state, "p2", Observation(Outcome.CONNECT_ERROR), 100.0)
    async with StateManager(open_store(url), writer_id="good-writer") as manager:
        await manager.load()
        manager.attach(state, mesh)
        assert await manager.sync()


def _corrupt_events(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e for e in logs if e["event"] == "snapshot.corrupt"]


# --- the file backend: whole documents ---------------------------------------------------


def _file_cases(document: bytes) -> dict[str, bytes]:
    envelope = json.loads(document)
    newer = dict(envelope, schema_version=99)
    altered = document.replace(b'"availability_score":1.0', b'"availability_score":0.9', 1)
    assert altered != document
    return {
        "empty file": b"",
        "NUL bytes": b"\x00" * 4096,
        "truncated JSON": document[: len(document) // 2],
        "bad checksum": altered,
        "unknown schema version": json.dumps(newer).encode(),
    }


@pytest.mark.parametrize(
    "case", ["empty file", "NUL bytes", "truncated JSON", "bad checksum", "unknown schema version"]
)
async def test_a_corrupt_snapshot_file_is_set_aside_reported_and_not_overwritten(
    tmp_path: Path, case: str
) -> None:
    await _write_good_state(f"file://{tmp_path}/source/state.json")
    damaged = _file_cases((tmp_path / "source" / "state.json").read_bytes())[case]
    path = tmp_path / "state" / "state.json"
    path.parent.mkdir()
    path.write_bytes(damaged)
    url = f"file://{path}"
    mesh = small_mesh()

    with capture_logs() as logs:
        async with StateManager(open_store(url)) as manager:
            assert await manager.load() is None
            state = initial_state(mesh)
            manager.attach(state, mesh)
            assert await manager.sync()

    (event,) = _corrupt_events(logs)
    moved = Path(str(event["moved_to"]))
    assert moved.name.startswith("state.json.corrupt-")
    assert read_bytes(moved) == damaged
    assert event["reason"]
    back = await read_snapshot(url)
    assert back is not None
    assert back.state.to_dict() == state.to_dict()


async def test_a_corrupt_file_falls_back_to_the_previous_generation(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/state.json"
    await _write_good_state(url)
    await _write_good_state(url)  # the second write keeps the first as state.json.1
    previous = (tmp_path / "state.json.1").read_bytes()
    (tmp_path / "state.json").write_bytes(b"\x00" * 100)
    with capture_logs() as logs:
        async with StateManager(open_store(url)) as manager:
            restored = await manager.load()
    assert restored is not None
    assert restored.to_dict() == json.loads(previous)["state"]
    assert len(_corrupt_events(logs)) == 1


async def test_a_read_only_reader_reports_a_corrupt_file_but_leaves_it(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b'{"schema_version": 1, "trunc')
    with capture_logs() as logs:
        assert await read_snapshot(f"file://{path}") is None
    assert _corrupt_events(logs)[0]["moved_to"] is None
    assert path.read_bytes() == b'{"schema_version": 1, "trunc'


async def test_a_modelmesh_state_file_without_envelope_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(
        json.dumps(
            {
                "providers": {
                    "openai": {
                        "available": False,
                        "authValid": True,
                        "lastProbe": 5.0,
                        "availabilityScore": 0.2,
                    }
                },
                "models": {
                    "gpt-4o": {"status": "standby", "deactivationReason": "provider_unavailable"}
                },
                "pools": {
                    "chat": {"activeModels": [], "standbyModels": ["gpt-4o"], "rotationCount": 3}
                },
                "timestamp": 5.0,
            }
        )
    )
    async with StateManager(open_store(f"file://{path}")) as manager:
        restored = await manager.load()
    assert restored is not None
    assert restored.providers["openai"].availability_score == 0.2
    assert restored.pools["chat"].standby_models == {"gpt-4o"}
    assert restored.pools["chat"].rotation_count == 3


# --- row backends: one bad row is set aside alone --------------------------------------


def _damage(raw: RawStore, backend: str, case: str) -> None:
    """Damage provider p1's row (the provider and its models) the way `case` says."""
    found = raw.get_row("provider", "p1")
    assert found is not None
    data, checksum = found
    group = json.loads(data)
    group["models"]["p1/m1"]["failure_count"] = 7
    if case == "checksum mismatch":
        raw.set_row("provider", "p1", encode_json(group), checksum)
    elif case == "row that does not parse":
        group["models"]["p1/m1"]["status"] = 5
        bad = encode_json(group)
        raw.set_row("provider", "p1", bad, valid_checksum("provider", "p1", bad))
    elif case == "row that is not JSON":
        torn = data[: len(data) // 2]
        raw.set_row("provider", "p1", torn, valid_checksum("provider", "p1", torn))


@pytest.mark.parametrize(
    ("backend", "case"),
    [
        (backend, case)
        for backend in ROW_BACKENDS
        for case in ("checksum mismatch", "row that does not parse", "row that is not JSON")
        # The generated JSONB column refuses text that is not JSON: no such row exists there.
        if (backend, case) != ("postgres", "row that is not JSON")
    ],
    indirect=["backend"],
)
async def test_a_bad_row_is_quarantined_and_the_rest_loads(
    backend: str, store_url: str, raw: RawStore, case: str
) -> None:
    await _write_good_state(store_url)
    _damage(raw, backend, case)
    mesh = small_mesh()

    with capture_logs() as logs:
        async with StateManager(open_store(store_url)) as manager:
            restored = await manager.load()
            assert restored is not None
            # p1's row held p1 and its models: they are left out together...
            assert "p1" not in restored.providers
            assert not any(m.startswith("p1/") for m in restored.models)
            assert all(
                not any(m.startswith("p1/") for m in p.active_models | p.standby_models)
                for p in restored.pools.values()
            )
            # ...while the good remainder keeps its news: p2 is down, its models in standby.
            assert not restored.providers["p2"].is_healthy()
            assert restored.pools["chat"].standby_models == {"p2/m0"}
            state, _ = reconcile(mesh, restored, 200.0)
            assert consistency_errors(state, mesh) == []
            assert state.providers["p1"].is_healthy()  # back from the configuration
            manager.attach(state, mesh)
            assert await manager.sync()

    (event,) = _corrupt_events(logs)
    assert event["what"] == "provider row 'p1'"
    assert event["moved_to"]
    assert ("provider", "p1") in raw.quarantined()
    async with StateManager(open_store(store_url)) as manager:
        with capture_logs() as later:
            again = await manager.load()
    assert again is not None
    assert again.to_dict() == state.to_dict()
    assert _corrupt_events(later) == []
    assert ("provider", "p1") in raw.quarantined()  # set aside, never overwritten


@pytest.mark.parametrize("backend", ROW_BACKENDS, indirect=True)
@pytest.mark.parametrize("case", ["unknown schema version", "meta checksum mismatch"])
async def test_a_bad_meta_row_sets_the_whole_store_aside(
    backend: str, store_url: str, raw: RawStore, case: str
) -> None:
    await _write_good_state(store_url)
    meta = encode_json(
        {
            "layout": ROW_LAYOUT,
            "schema_version": 99,
            "written_at": 1.0,
            "writer_id": "future",
            "epoch": 9,
            "timestamp": 1.0,
        }
    )
    checksum = valid_checksum("meta", "meta", meta) if case == "unknown schema version" else "x"
    raw.set_meta(meta, checksum)

    with capture_logs() as logs:
        async with StateManager(open_store(store_url)) as manager:
            assert await manager.load() is None
            mesh = small_mesh()
            manager.attach(initial_state(mesh), mesh)
            assert await manager.sync()
    (event,) = _corrupt_events(logs)
    assert event["what"].startswith("whole store")  # type: ignore[union-attr]
    if case == "unknown schema version":
        assert "unknown schema version 99" in str(event["reason"])
    assert ("meta", "meta") in raw.quarantined()
    assert ("provider", "p1") in raw.quarantined()
    assert await read_snapshot(store_url) is not None


@pytest.mark.parametrize("backend", ROW_BACKENDS, indirect=True)
async def test_a_reader_skips_a_bad_row_without_moving_it(
    backend: str, store_url: str, raw: RawStore
) -> None:
    await _write_good_state(store_url)
    _damage(raw, backend, "checksum mismatch")
    with capture_logs() as logs:
        snap = await read_snapshot(store_url)
    assert snap is not None
    assert "p1" not in snap.state.providers
    assert "p0" in snap.state.providers
    assert _corrupt_events(logs)[0]["moved_to"] is None
    assert raw.quarantined() == []
    assert raw.get_row("provider", "p1") is not None


# --- SQLite: a file that is not a database -----------------------------------------------


@pytest.mark.parametrize("content", [b"\x00" * 8192, b"this is not a database at all" * 200])
async def test_a_sqlite_file_that_is_not_a_database_is_set_aside(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(content)
    with capture_logs() as logs:
        async with StateManager(open_store(f"sqlite:///{path}")) as manager:
            assert await manager.load() is None
            mesh = small_mesh()
            manager.attach(initial_state(mesh), mesh)
            assert await manager.sync()
    (event,) = _corrupt_events(logs)
    assert read_bytes(Path(str(event["moved_to"]))) == content
    assert await read_snapshot(f"sqlite:///{path}") is not None


async def test_an_empty_sqlite_file_is_an_empty_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"")
    with capture_logs() as logs:
        async with StateManager(open_store(f"sqlite:///{path}")) as manager:
            assert await manager.load() is None
    assert _corrupt_events(logs) == []
