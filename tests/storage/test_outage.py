"""Backend outages under a running manager fed by a probing loop: nothing stops, nothing is lost.

The loop keeps probing while the backend is gone, `snapshot.save_failed` is logged, and once the
backend is back the store holds the newest state.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from storage_support import probe_step, small_mesh
from structlog.testing import capture_logs

from modelmesh_healthd.state import SystemState, initial_state
from modelmesh_healthd.storage import (
    StateManager,
    StoreLockedError,
    StoreUnavailableError,
    open_store,
    read_state,
)
from service_support import PostgresServer, RedisServerFactory


async def eventually(condition: Callable[[], bool], what: str, patience: float = 20.0) -> None:
    """Wait for a condition, failing with `what` after `patience` seconds (a bound, not a
    timing assertion)."""
    deadline = time.monotonic() + patience
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for: {what}")
        await asyncio.sleep(0.01)


class Prober:
    """A probing-like loop: one transition every couple of milliseconds, recorded."""

    def __init__(self, manager: StateManager) -> None:
        self.mesh = small_mesh()
        self.state: SystemState = initial_state(self.mesh)
        self.manager = manager
        self.steps = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while not self._stop.is_set():
            self.manager.record(probe_step(self.mesh, self.state, self.steps, 1e6 + self.steps))
            self.steps += 1
            await asyncio.sleep(0.002)

    async def start(self) -> None:
        await self.manager.start()
        await self.manager.load()
        self.manager.attach(self.state, self.mesh)
        await self.manager.wait_idle()
        self._task = asyncio.create_task(self._run())

    async def keeps_going(self) -> None:
        before = self.steps
        await eventually(lambda: self.steps > before + 20, "the probing loop to go on")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


@asynccontextmanager
async def probing(url: str) -> AsyncIterator[Prober]:
    manager = StateManager(open_store(url), retry_initial=0.02, retry_max=0.2)
    prober = Prober(manager)
    await prober.start()
    try:
        yield prober
    finally:
        await prober.stop()
        await manager.stop()


def _events(logs: list[dict[str, object]], name: str) -> list[dict[str, object]]:
    return [e for e in logs if e["event"] == name]


async def _outlives_outage(prober: Prober, logs: list[dict[str, object]], url: str) -> None:
    """Common ending: the loop went on, failures were logged, the store has the newest state."""
    await eventually(lambda: prober.manager.ready, "the manager to be ready again")
    await prober.keeps_going()
    await prober.stop()
    assert await prober.manager.sync()
    assert _events(logs, "snapshot.save_failed")
    assert _events(logs, "snapshot.save_recovered")
    back = await read_state(url)
    assert back is not None
    assert back.to_dict() == prober.state.to_dict()


async def test_probing_outlives_a_redis_outage_and_the_newest_state_is_written_after(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    url = f"{server.url}?prefix=outage:&timeout=0.5"
    with capture_logs() as logs:
        async with probing(url) as prober:
            await prober.keeps_going()
            await asyncio.to_thread(server.kill)
            await eventually(
                lambda: bool(_events(logs, "snapshot.save_failed")), "a failed save to be logged"
            )
            assert not prober.manager.ready
            await prober.keeps_going()
            await asyncio.to_thread(server.start)
            await _outlives_outage(prober, logs, url)
    failed = _events(logs, "snapshot.save_failed")[0]
    assert "ConnectionError" in str(failed["reason"])
    assert _events(logs, "store.reset"), "a restarted Redis without persistence is rewritten"


async def test_a_killed_postgres_session_is_replaced_and_the_writer_keeps_its_lock(
    postgres_url: str,
) -> None:
    import psycopg

    base, _, query = postgres_url.partition("?")
    schema = query.removeprefix("schema=")

    def kill_the_lock_session() -> int:
        with psycopg.connect(base, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND objid = hashtext(%s)::oid AND granted",
                (schema,),
            ).fetchall()
        return len(rows)

    with capture_logs() as logs:
        async with probing(postgres_url) as prober:
            await prober.keeps_going()
            assert await asyncio.to_thread(kill_the_lock_session) == 1
            await eventually(
                lambda: bool(_events(logs, "snapshot.save_failed")), "a failed save to be logged"
            )
            await _outlives_outage(prober, logs, postgres_url)
            assert prober.manager.get_sync_status().locked
    assert not _events(logs, "store.lock_lost")


async def test_probing_outlives_a_postgres_restart_and_the_newest_state_is_written_after(
    postgres_server: PostgresServer,
) -> None:
    url = f"{postgres_server.url}?schema=outage&timeout=1"
    with capture_logs() as logs:
        async with probing(url) as prober:
            await prober.keeps_going()
            await asyncio.to_thread(postgres_server.kill)
            await eventually(
                lambda: bool(_events(logs, "snapshot.save_failed")), "a failed save to be logged"
            )
            assert not prober.manager.ready
            await prober.keeps_going()
            await asyncio.to_thread(postgres_server.start)
            await _outlives_outage(prober, logs, url)
            assert prober.manager.get_sync_status().locked
    assert not _events(logs, "store.lock_lost")


@pytest.mark.parametrize("backend", ["file", "sqlite"], indirect=True)
async def test_a_removed_state_directory_fails_saves_until_it_is_back(
    backend: str, store_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "state"
    with capture_logs() as logs:
        async with probing(store_url) as prober:
            await prober.keeps_going()
            await asyncio.to_thread(_remove, directory)
            await eventually(
                lambda: bool(_events(logs, "snapshot.save_failed")), "a failed save to be logged"
            )
            await prober.keeps_going()
            await asyncio.to_thread(directory.mkdir)
            await _outlives_outage(prober, logs, store_url)


def _remove(directory: Path) -> None:
    # The writer may create a temporary file while the tree is being removed: go again.
    while directory.exists():
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def immutable() -> Iterator[Callable[[Path], None]]:
    """Make a directory and its files unwritable even for root (`chattr +i`), undone after."""
    frozen: list[Path] = []
    chattr = shutil.which("chattr")

    def freeze(directory: Path) -> None:
        if chattr is None:
            pytest.skip("no chattr: cannot make a directory read-only for root")
        for _ in range(100):  # the writer renames files in there meanwhile: go again
            # Not SQLite's -shm: it is memory-mapped, and making a live mapping immutable
            # raises SIGBUS, which no real fault (a read-only remount, a full disk) does.
            paths = [directory, *(p for p in directory.iterdir() if not p.name.endswith("-shm"))]
            result = subprocess.run(
                [chattr, "+i", *map(str, paths)], capture_output=True, check=False
            )
            frozen.extend(paths)
            if result.returncode == 0:
                return
            if b"No such file" not in result.stderr:
                pytest.skip(f"chattr +i refused here: {result.stderr.decode().strip()}")
        pytest.fail("could not freeze the state directory")

    yield freeze
    still_there = [str(p) for p in frozen if p.exists()]
    if still_there and chattr is not None:  # the test thaws them itself unless it failed
        subprocess.run([chattr, "-i", *still_there], check=True)


def _thaw(paths: list[Path]) -> None:
    subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


@pytest.mark.parametrize("backend", ["file", "sqlite"], indirect=True)
async def test_a_read_only_state_directory_fails_saves_until_it_is_writable(
    backend: str, store_url: str, tmp_path: Path, immutable: Callable[[Path], None]
) -> None:
    directory = tmp_path / "state"
    with capture_logs() as logs:
        async with probing(store_url) as prober:
            await prober.keeps_going()
            immutable(directory)
            await eventually(
                lambda: bool(_events(logs, "snapshot.save_failed")), "a failed save to be logged"
            )
            await prober.keeps_going()
            await asyncio.to_thread(_thaw, [directory, *directory.iterdir()])
            await _outlives_outage(prober, logs, store_url)


async def test_a_manager_that_could_not_start_can_start_once_the_backend_is_up(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    await asyncio.to_thread(server.kill)
    manager = StateManager(open_store(f"{server.url}?timeout=0.5"))
    with pytest.raises(StoreUnavailableError, match="ConnectionError"):
        await manager.start()
    assert not manager.ready
    await asyncio.to_thread(server.start)
    await manager.start()
    try:
        assert manager.ready
        assert await manager.load() is None
    finally:
        await manager.stop()


async def test_a_sqlite_manager_can_be_started_again_after_a_failed_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    async with StateManager(open_store(url), writer_id="holder"):
        manager = StateManager(open_store(url))
        with pytest.raises(StoreLockedError):
            await manager.start()
    await manager.start()  # the same manager, and the same store object, once the lock is free
    try:
        assert manager.get_sync_status().locked
    finally:
        await manager.stop()
