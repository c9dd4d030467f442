"""A writer never writes over what it does not know: a successor's state, a rolled-back store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from raw_store_support import RawStore
from storage_support import probe_step, small_mesh
from structlog.testing import capture_logs

from modelmesh_healthd.state import initial_state
from modelmesh_healthd.storage import StateManager, open_store, read_snapshot, read_state


def _steal(backend: str, url: str) -> None:
    """Take the lock away from its holder the way an expiry or a lost session would."""
    if backend in ("file", "sqlite"):
        # A removed lock file: the holder's flock is on a file nobody else can see any more.
        path = Path(url.split("://", 1)[1])
        path.with_name(path.name + ".lock").unlink()
    elif backend == "redis":
        import redis

        base, _, query = url.partition("?")
        client = redis.Redis.from_url(base)
        client.delete(query.removeprefix("prefix=") + "lock")  # the lease ran out
        client.close()
    else:
        import psycopg

        base, _, query = url.partition("?")
        with psycopg.connect(base, autocommit=True) as conn:  # the session died
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND objid = hashtext(%s)::oid AND granted",
                (query.removeprefix("schema="),),
            )


@pytest.mark.parametrize("backend", ["file", "sqlite", "redis", "postgres"], indirect=True)
async def test_a_writer_that_lost_its_lock_stops_and_leaves_the_successors_state(
    backend: str, store_url: str
) -> None:
    mesh = small_mesh()
    first_state, second_state = initial_state(mesh), initial_state(mesh)
    first = StateManager(open_store(store_url), writer_id="first", retry_initial=0.01)
    await first.start()
    try:
        await first.load()
        first.attach(first_state, mesh)
        assert await first.sync()

        await asyncio.to_thread(_steal, backend, store_url)
        async with StateManager(open_store(store_url), writer_id="second") as second:
            await second.load()
            second.attach(second_state, mesh)
            assert await second.sync()

            with capture_logs() as logs:
                first.record(probe_step(mesh, first_state, 0, 50.0))
                # The first attempt may only find its session dead (a failed write, retried);
                # the next finds the lock held by the successor.
                for _ in range(50):
                    assert not await first.sync()
                    if first.lock_lost:
                        break
                    await asyncio.sleep(0.01)
            assert first.lock_lost
            assert not first.ready
            lost = [e["event"] for e in logs if e["event"] == "store.lock_lost"]
            assert lost == ["store.lock_lost"]
    finally:
        await first.stop()

    snap = await read_snapshot(store_url)
    assert snap is not None
    assert snap.writer_id == "second"
    assert snap.state.to_dict() == second_state.to_dict()


@pytest.mark.parametrize("backend", ["sqlite", "redis", "postgres"], indirect=True)
async def test_a_store_rolled_back_behind_the_writers_back_is_rewritten_in_full(
    backend: str, store_url: str, raw: RawStore
) -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    async with StateManager(open_store(store_url)) as manager:
        await manager.load()
        manager.attach(state, mesh)
        assert await manager.sync()
        old_meta, old_p0 = raw.get_meta(), raw.get_row("provider", "p0")
        assert old_meta is not None
        assert old_p0 is not None
        for step in range(0, 8, 4):  # two writes that change p0
            manager.record(probe_step(mesh, state, step, 100.0 + step))
            assert await manager.sync()

        # Restarted from an older snapshot (a Redis RDB file, a restored backup).
        raw.set_meta(*old_meta)
        raw.set_row("provider", "p0", *old_p0)
        with capture_logs() as logs:
            manager.record(probe_step(mesh, state, 1, 200.0))  # an incremental change of p1
            await manager.wait_idle()
    assert [e["event"] for e in logs if e["event"] == "store.reset"] == ["store.reset"]
    back = await read_state(store_url)
    assert back is not None
    assert back.to_dict() == state.to_dict()
