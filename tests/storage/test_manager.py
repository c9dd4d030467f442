"""StateManager policies and status, and the small pure pieces around it."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from storage_support import probe_step, read_bytes, small_mesh
from structlog.testing import capture_logs

from modelmesh_healthd.state import (
    Event,
    ModelAdded,
    ModelDeactivated,
    ModelReactivated,
    Observation,
    Outcome,
    PoolEmpty,
    ProbeCompleted,
    ProviderRemoved,
    Snapshot,
    apply_probe,
    canonical_json,
    initial_state,
)
from modelmesh_healthd.storage import (
    LOG_EVENTS,
    LockOwner,
    StateManager,
    StoreLockedError,
    StoreUnavailableError,
    StoreURLError,
    SyncPolicy,
    default_store_url,
    open_store,
    read_snapshot,
    redact_url,
    status_table,
)
from modelmesh_healthd.storage.dirty import DirtySet
from modelmesh_healthd.storage.memory_store import MemoryStore

SOURCE = Path(__file__).parents[2] / "src" / "modelmesh_healthd" / "storage"


def _saved(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e for e in logs if e["event"] == "snapshot.saved"]


# --- policies ------------------------------------------------------------------------------


async def test_the_in_memory_policy_never_touches_the_store(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/state/state.json"
    mesh = small_mesh()
    state = initial_state(mesh)
    async with StateManager(open_store(url), policy="in-memory") as manager:
        assert await manager.load() is None
        manager.attach(state, mesh)
        manager.record(probe_step(mesh, state, 0, 1.0))
        assert await manager.sync()
        assert manager.ready
    assert not (tmp_path / "state").exists()


async def test_sync_on_boundary_writes_nothing_until_stop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    mesh = small_mesh()
    state = initial_state(mesh)
    async with StateManager(open_store(url), policy=SyncPolicy.SYNC_ON_BOUNDARY) as manager:
        await manager.load()
        manager.attach(state, mesh)
        for step in range(20):
            manager.record(probe_step(mesh, state, step, 100.0 + step))
            await asyncio.sleep(0.001)
        assert manager.get_sync_status().next_sync is None
        assert await read_snapshot(url) is None
    snap = await read_snapshot(url)
    assert snap is not None
    assert snap.state.to_dict() == state.to_dict()


async def test_periodic_writes_a_burst_of_changes_as_one_write() -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    manager = StateManager(open_store("memory://"), policy="periodic", sync_interval=0.05)
    async with manager:
        await manager.load()
        manager.attach(state, mesh)
        await manager.wait_idle()
        with capture_logs() as logs:
            for step in range(30):
                manager.record(probe_step(mesh, state, step, 200.0 + step))
            status = manager.get_sync_status()
            assert status.pending_changes > 0
            assert status.next_sync is not None
            await manager.wait_idle()
    assert [e["full"] for e in _saved(logs)] == [False]


async def test_immediate_coalesces_changes_recorded_during_a_write() -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    async with StateManager(open_store("memory://")) as manager:
        await manager.load()
        manager.attach(state, mesh)
        await manager.wait_idle()
        with capture_logs() as logs:
            for step in range(40):  # no await in between: one burst
                manager.record(probe_step(mesh, state, step, 300.0 + step))
            await manager.wait_idle()
    assert len(_saved(logs)) == 1


async def test_immediate_with_a_min_gap_writes_changes_of_many_loop_turns_in_one_write() -> None:
    # The daemon's write tick: probes finishing one by one inside a tick make one transaction.
    mesh = small_mesh()
    state = initial_state(mesh)
    async with StateManager(open_store("memory://"), min_gap=0.5) as manager:
        await manager.load()
        manager.attach(state, mesh)
        await manager.wait_idle()
        with capture_logs() as logs:
            for step in range(10):
                manager.record(probe_step(mesh, state, step, 300.0 + step))
                await asyncio.sleep(0)  # each change in a turn of its own, as probes finish
            await manager.wait_idle()
    saved = _saved(logs)
    assert len(saved) == 1
    assert manager.get_sync_status().pending_changes == 0


async def test_immediate_with_a_min_gap_holds_changes_until_the_gap_has_passed() -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    url = "memory://min-gap"
    try:
        async with StateManager(open_store(url), min_gap=3600.0) as manager:
            await manager.load()
            manager.attach(state, mesh)
            await manager.wait_idle()  # the first write is not held
            first = await read_snapshot(url)
            manager.record(probe_step(mesh, state, 0, 500.0))
            for _ in range(20):
                await asyncio.sleep(0)
            held = await read_snapshot(url)
            assert manager.get_sync_status().pending_changes == 1
            assert await manager.sync()  # explicit: not held
            written = await read_snapshot(url)
    finally:
        MemoryStore.drop("min-gap")
    assert first is not None
    assert held is not None
    assert written is not None
    assert held.epoch == first.epoch
    assert written.epoch == first.epoch + 1


async def test_the_sync_status_tells_what_is_pending_and_who_holds_the_lock() -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    async with StateManager(
        open_store("memory://"), policy="sync-on-boundary", writer_id="healthd-7"
    ) as manager:
        await manager.load()
        manager.attach(state, mesh)
        manager.record(probe_step(mesh, state, 0, 400.0))
        before = manager.get_sync_status()
        assert await manager.sync()
        after = manager.get_sync_status()
    assert before.full_save_pending
    assert before.last_sync is None
    assert before.locked
    assert before.lock_owner is not None
    assert before.lock_owner.writer_id == "healthd-7"
    assert "token" not in json.dumps(before.to_dict())
    assert (after.pending_changes, after.full_save_pending) == (0, False)
    assert after.last_sync is not None
    assert after.epoch == 1
    assert after.policy == "sync-on-boundary"


async def test_load_before_start_is_refused() -> None:
    with pytest.raises(RuntimeError, match="start"):
        await StateManager(open_store("memory://")).load()


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="hourly"):
        StateManager(open_store("memory://"), policy="hourly")


# --- what an event marks dirty -------------------------------------------------------------


def _keys(provider: set[str], pool: set[str], members: set[str]) -> dict[str, set[str]]:
    return {"provider": provider, "pool": pool, "members": members}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (ProbeCompleted("p1", "ok", 1.0, 1.0, True), _keys({"p1"}, set(), set())),
        (
            ModelDeactivated("p1/m0", "p1", "chat", "provider_unavailable"),
            _keys({"p1"}, {"chat"}, set()),
        ),
        (ModelReactivated("p2/m1", "p2", None, "model_not_found"), _keys({"p2"}, set(), set())),
        (PoolEmpty("embed", 4), _keys(set(), {"embed"}, set())),
        (ModelAdded("p0/m2", "p0"), _keys({"p0"}, {"all"}, {"all"})),
        (
            ProviderRemoved("p3"),
            _keys({"p3"}, {"chat", "embed", "all"}, {"chat", "embed", "all"}),
        ),
    ],
)
def test_each_event_marks_exactly_the_rows_it_can_change(
    event: Event, expected: dict[str, set[str]]
) -> None:
    dirty = DirtySet()
    dirty.add_events(small_mesh(), [event])
    assert dirty.keys == expected


def test_a_provider_outage_marks_a_handful_of_rows_in_any_fleet() -> None:
    for providers in (10, 1000):
        mesh = small_mesh(providers=providers)
        state = initial_state(mesh)
        dirty = DirtySet()
        for _ in range(4):
            dirty.add_events(
                mesh, apply_probe(mesh, state, "p3", Observation(Outcome.TIMEOUT), 5.0)
            )
        assert not state.providers["p3"].is_healthy()
        assert len(dirty) == 1 + 3  # its provider row, the rotation counters of its pools


def test_attaching_a_state_not_reconciled_to_the_mesh_is_refused() -> None:
    mesh = small_mesh()
    state = initial_state(small_mesh(providers=5))
    with pytest.raises(ValueError, match="p4/m0"):
        StateManager(open_store("memory://")).attach(state, mesh)


# --- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        ({}, "sqlite:./state/state.db"),
        (
            {"STATE_DIRECTORY": "/var/lib/modelmesh-healthd"},
            "sqlite:////var/lib/modelmesh-healthd/state.db",
        ),
        ({"STATE_DIRECTORY": "/var/lib/a:/var/lib/b"}, "sqlite:////var/lib/a/state.db"),
        ({"STATE_DIRECTORY": "/srv/state/"}, "sqlite:////srv/state/state.db"),
        ({"STATE_DIRECTORY": ""}, "sqlite:./state/state.db"),
    ],
)
def test_the_default_store_is_sqlite_in_the_state_directory(
    environ: dict[str, str], url: str
) -> None:
    assert default_store_url(environ) == url


async def test_the_relative_default_url_opens_a_database_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    mesh = small_mesh()
    async with StateManager(open_store(default_store_url({}))) as manager:
        await manager.load()
        manager.attach(initial_state(mesh), mesh)
        assert await manager.sync()
    assert (tmp_path / "state" / "state.db").exists()


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("postgresql://app:s3cret@db:5432/x?schema=a", "postgresql://app:***@db:5432/x?schema=a"),
        ("sqlite:///var/lib/x/state.db", "sqlite:///var/lib/x/state.db"),
        (
            "postgresql://app@db/x?password=s3cret&schema=a",
            "postgresql://app@db/x?password=***&schema=a",
        ),
    ],
)
def test_passwords_are_redacted_from_store_urls(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_an_unknown_scheme_is_named_and_the_password_is_not() -> None:
    with pytest.raises(StoreURLError) as refused:
        open_store("mongodb://root:hunter2@127.0.0.1/x")
    assert "'mongodb'" in str(refused.value)
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize(
    "url", ["redis://:hunter2@127.0.0.1:1/0", "postgresql://u:hunter2@127.0.0.1:1/x"]
)
def test_a_store_never_shows_its_password(url: str) -> None:
    assert "hunter2" not in open_store(url).url


@pytest.mark.parametrize(
    "url",
    [
        "redis://:hunter2@127.0.0.1:1/0?timeout=0.5",
        "postgresql://app:hunter2@127.0.0.1:1/x?timeout=1",
        "postgresql://app@127.0.0.1:1/x?password=hunter2&timeout=1",
    ],
)
async def test_an_unreachable_store_says_why_without_the_password(url: str) -> None:
    manager = StateManager(open_store(url))
    with capture_logs() as logs, pytest.raises(StoreUnavailableError) as failed:
        await manager.start()
    assert "127.0.0.1" in str(failed.value)
    assert "hunter2" not in str(failed.value)
    assert "hunter2" not in repr(logs)


def test_the_lock_refusal_names_the_owner() -> None:
    owner = LockOwner("healthd-1", "node-a", 4242, 0.0, "t")
    message = str(StoreLockedError("sqlite:///x.db", owner))
    assert message == (
        "state store sqlite:///x.db is locked by writer 'healthd-1' "
        "(host node-a, pid 4242, since 1970-01-01T00:00:00+00:00)"
    )


# --- the file format ----------------------------------------------------------------------------


async def test_the_snapshot_file_is_the_canonical_envelope(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/state.json"
    mesh = small_mesh()
    state = initial_state(mesh)
    async with StateManager(open_store(url)) as manager:
        await manager.load()
        manager.attach(state, mesh)
        for step in range(12):
            manager.record(probe_step(mesh, state, step, 600.0 + step))
        assert await manager.sync()
    document = read_bytes(tmp_path / "state.json")
    snapshot = Snapshot.from_dict(json.loads(document))
    assert canonical_json(snapshot.to_dict()) == document


# --- status table and log events ---------------------------------------------------------------


def test_the_status_table_shows_health_reasons_and_pool_members() -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    for _ in range(4):
        apply_probe(mesh, state, "p1", Observation(Outcome.CONNECT_ERROR, detail="refused"), 9.0)
    table = status_table(state)
    rows = {r.provider: r for r in table.providers}
    assert (rows["p0"].health, rows["p0"].reason) == ("up", None)
    assert rows["p1"].health == "down"
    assert rows["p1"].reason == "provider_unavailable: refused"
    assert rows["p1"].last_probe == 9.0
    chat = {p.pool: p for p in table.pools}["chat"]
    assert chat.active == ("p0/m0", "p2/m0", "p3/m0")
    assert chat.standby == (("p1/m0", "provider_unavailable"),)
    assert json.loads(json.dumps(table.to_dict()))["providers"][1]["provider"] == "p1"


def test_every_logged_event_is_declared_with_its_level() -> None:
    declared = {spec.name: spec.level for spec in LOG_EVENTS}
    used: set[tuple[str, str]] = set()
    # The replicas' coordinator and the standby's wait (in the daemon) log storage events too,
    # under this logger.
    daemon = SOURCE.parent / "daemon"
    replicas = [*daemon.glob("coordination*.py"), daemon / "replica_options.py"]
    for path in [*SOURCE.glob("*.py"), *replicas]:
        text = path.read_text()
        for level, name in re.findall(r"_log\.(debug|info|warning|error)\(\s*\"([a-z_.]+)\"", text):
            used.add((name, level))
    used.add(("snapshot.saved", "debug"))  # logged through a level chosen per write
    assert {name for name, _ in used} == set(declared)
    for name, level in used - {("snapshot.saved", "debug")}:
        assert declared[name] == level, name
