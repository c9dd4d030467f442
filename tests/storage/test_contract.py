"""The contract every backend keeps, run against all five (real Redis and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from storage_support import (
    consistency_errors,
    manager_for,
    probe_step,
    small_mesh,
    start_when_free,
)
from structlog.testing import capture_logs

from modelmesh_healthd.state import (
    SCHEMA_VERSION,
    Mesh,
    ModelRemoved,
    Observation,
    Outcome,
    ProviderRemoved,
    apply_probe,
    canonical_json,
    initial_state,
    reconcile,
)
from modelmesh_healthd.storage import (
    StoreLockedError,
    read_snapshot,
    read_state,
)

WRITER = Path(__file__).with_name("crash_writer.py")


class Clock:
    """A wall clock that moves only when told (envelope times become exact)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


async def test_a_saved_state_loads_back_equal(store_url: str) -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    async with manager_for(store_url) as manager:
        assert await manager.load() is None
        manager.attach(state, mesh)
        for step in range(40):
            manager.record(probe_step(mesh, state, step, 1000.0 + step))
        assert await manager.sync()

    async with manager_for(store_url) as manager:
        restored = await manager.load()
    assert restored is not None
    assert restored.to_dict() == state.to_dict()
    assert not consistency_errors(restored, mesh)


async def test_one_probe_of_a_healthy_provider_writes_one_row(store_url: str) -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    async with manager_for(store_url) as manager:
        await manager.load()
        manager.attach(state, mesh)
        assert await manager.sync()
        manager.record(apply_probe(mesh, state, "p2", Observation(Outcome.OK, 0.1), 2000.0))
        with capture_logs() as logs:
            assert await manager.sync()
    saved = [e for e in logs if e["event"] == "snapshot.saved"]
    assert [(e["rows"], e["full"]) for e in saved] == [(1, False)]
    back = await read_state(store_url)
    assert back is not None
    assert back.to_dict() == state.to_dict()


async def test_a_provider_outage_writes_only_the_rows_it_touches(store_url: str) -> None:
    mesh = small_mesh(providers=20)
    state = initial_state(mesh)
    async with manager_for(store_url) as manager:
        await manager.load()
        manager.attach(state, mesh)
        assert await manager.sync()
        with capture_logs() as logs:
            for _ in range(4):
                manager.record(
                    apply_probe(mesh, state, "p7", Observation(Outcome.CONNECT_ERROR), 3000.0)
                )
            assert await manager.sync()
    assert not state.providers["p7"].is_healthy()
    (saved,) = [e for e in logs if e["event"] == "snapshot.saved"]
    # p7's row (with its models) + the rotation counters of its 3 pools, not the fleet
    assert saved["rows"] == 4
    back = await read_state(store_url)
    assert back is not None
    assert back.to_dict() == state.to_dict()


async def test_rows_of_removed_providers_and_models_are_deleted(store_url: str) -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    async with manager_for(store_url) as manager:
        await manager.load()
        manager.attach(state, mesh)
        assert await manager.sync()
        # Incremental deletion: the state loses p3 and its models, the events say so.
        del state.providers["p3"]
        for model in mesh.provider_models["p3"]:
            del state.models[model]
            for pool in state.pools.values():
                pool.active_models.discard(model)
        manager.record(
            [ProviderRemoved("p3"), *(ModelRemoved(m) for m in mesh.provider_models["p3"])]
        )
        assert await manager.sync()
        back = await read_state(store_url)
        assert back is not None
        assert back.to_dict() == state.to_dict()

        # Deletion by reload: a new topology without p2, reconciled and attached (full save).
        smaller = Mesh.build(
            ["p0", "p1"],
            {m: p for m, p in mesh.model_provider.items() if p in ("p0", "p1")},
            {k: [m for m in v if m.startswith(("p0/", "p1/"))] for k, v in mesh.pools.items()},
        )
        state, _ = reconcile(smaller, state, 4000.0)
        manager.attach(state, smaller)
        assert await manager.sync()
    back = await read_state(store_url)
    assert back is not None
    assert set(back.providers) == {"p0", "p1"}
    assert back.to_dict() == state.to_dict()


async def test_the_envelope_names_the_writer_and_the_epoch_grows_with_every_write(
    store_url: str,
) -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    clock = Clock()
    epochs = []
    async with manager_for(store_url, writer_id="healthd-east", clock=clock) as manager:
        await manager.load()
        manager.attach(state, mesh)
        for step in range(3):
            assert await manager.sync()
            snap = await read_snapshot(store_url)
            assert snap is not None
            assert (snap.writer_id, snap.schema_version) == ("healthd-east", SCHEMA_VERSION)
            assert snap.written_at == clock.now
            epochs.append(snap.epoch)
            manager.record(probe_step(mesh, state, step, 5000.0 + step))
    assert epochs == sorted(set(epochs))
    assert len(epochs) == 3

    async with manager_for(store_url, writer_id="healthd-west") as manager:
        await manager.load()
        manager.attach(state, mesh)
        assert await manager.sync()
    snap = await read_snapshot(store_url)
    assert snap is not None
    assert snap.writer_id == "healthd-west"
    assert snap.epoch > epochs[-1]


async def test_a_second_writer_is_refused_and_told_who_holds_the_store(store_url: str) -> None:
    async with manager_for(store_url, writer_id="healthd-first"):
        second = manager_for(store_url, writer_id="healthd-second")
        with capture_logs() as logs, pytest.raises(StoreLockedError) as refused:
            await second.start()
    message = str(refused.value)
    assert "healthd-first" in message
    assert f"pid {os.getpid()}" in message
    assert "since" in message
    (locked,) = [e for e in logs if e["event"] == "store.locked"]
    assert locked["owner_writer_id"] == "healthd-first"


async def test_the_lock_is_free_again_after_stop(store_url: str) -> None:
    async with manager_for(store_url, writer_id="healthd-first"):
        pass
    async with manager_for(store_url, writer_id="healthd-second") as manager:
        assert manager.get_sync_status().locked


@pytest.mark.parametrize("backend", ["file", "sqlite", "redis", "postgres"], indirect=True)
async def test_the_lock_of_a_killed_writer_is_reclaimed(store_url: str, backend: str) -> None:
    url = store_url + ("&lock_ttl=0.5" if backend == "redis" else "")
    holder = await asyncio.create_subprocess_exec(
        sys.executable, str(WRITER), "hold", url, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert holder.stdout is not None
        assert await holder.stdout.readline() == b"locked\n"
        with pytest.raises(StoreLockedError, match="crash-writer"):
            await manager_for(url).start()
    finally:
        holder.send_signal(signal.SIGKILL)
        await holder.wait()
    manager = manager_for(url)
    await start_when_free(manager)
    try:
        assert manager.get_sync_status().locked
    finally:
        await manager.stop()


async def test_readers_see_only_complete_snapshots_while_the_writer_writes(store_url: str) -> None:
    mesh = small_mesh(providers=6)
    state = initial_state(mesh)
    epochs: list[int] = []
    async with manager_for(store_url) as manager:
        await manager.load()
        manager.attach(state, mesh)
        await manager.wait_idle()

        stop = asyncio.Event()

        async def probing() -> None:
            step = 0
            while not stop.is_set():
                manager.record(probe_step(mesh, state, step, 10_000.0 + step))
                step += 1
                await asyncio.sleep(0)

        writer = asyncio.create_task(probing())
        for _ in range(20):
            snap = await read_snapshot(store_url)
            assert snap is not None
            assert consistency_errors(snap.state, mesh) == []
            epochs.append(snap.epoch)
            await asyncio.sleep(0.001)  # a memory-store read never yields by itself
        stop.set()
        await writer
        assert await manager.sync()
    assert len(set(epochs)) > 1, "the reads all saw the same write: nothing was concurrent"
    assert epochs == sorted(epochs)
    final = await read_state(store_url)
    assert final is not None
    assert final.to_dict() == state.to_dict()


async def test_ids_and_numbers_of_any_shape_come_back_exactly(store_url: str) -> None:
    mesh = Mesh.build(
        ["モデル社", "p/with:odd chars"],
        {"モデル社/π-1": "モデル社", 'p/with:odd chars/"quoted"': "p/with:odd chars"},
        {"chat ☕": ["モデル社/π-1", 'p/with:odd chars/"quoted"']},
    )
    state = initial_state(mesh)
    model = state.models["モデル社/π-1"]
    model.cost_accumulated, model.error_rate = 1e20, -0.0
    model.latency_history = [5e-324, 1.5e-07, 0.30000000000000004, 1e16]
    state.providers["モデル社"].last_detail = 'über \\ "quoted" \n newline'
    async with manager_for(store_url) as manager:
        await manager.load()
        manager.attach(state, mesh)
        assert await manager.sync()
    back = await read_state(store_url)
    assert back is not None
    assert canonical_json(back.to_dict()) == canonical_json(state.to_dict())
