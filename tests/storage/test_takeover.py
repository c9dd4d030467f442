"""A writer whose lock was taken over stops writing: it never overwrites its successor."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from storage_support import probe_step, small_mesh
from structlog.testing import capture_logs

from modelmesh_healthd.state import initial_state
from modelmesh_healthd.storage import StateManager, open_store, read_snapshot


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
