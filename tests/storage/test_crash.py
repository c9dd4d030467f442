"""Crash safety: a writer process SIGKILLed at random moments never leaves a torn snapshot.

Each round starts a writer process (start, load, reconcile, full save, then probing and writing
under `immediate` as fast as it can), kills it at a random moment, and reads the store: it must
load complete (every provider, model and pool present) and consistent (the cross-row invariants
of the core hold), i.e. be the previous write or the newest, never a mix. The next round's writer
also has to reclaim the dead writer's lock.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
from multiprocessing import forkserver
from multiprocessing.context import ForkServerContext
from pathlib import Path

import crash_writer
import pytest
from storage_support import consistency_errors, small_mesh, start_when_free
from structlog.testing import capture_logs

from modelmesh_healthd.storage import StateManager, open_store, read_snapshot

HERE = Path(__file__).parent
KILLS = {"file": 30, "sqlite": 30, "redis": 8, "postgres": 8}


@pytest.fixture(scope="module")
def writers() -> ForkServerContext:
    """Writers forked from one server that imported the writer and the stores once.

    A fresh interpreter per writer spent most of this test's CPU on imports; a forked child is
    still a separate process, killed with SIGKILL just the same.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["crash_writer"])
    # The fork server imports its preloads on its own path (Python 3.11 does not give it the
    # caller's), and one it cannot import is skipped without a word: each writer then imported
    # the writer and the stores itself, after the fork. Started with this directory on its
    # path, it imports them once.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(
            "PYTHONPATH", os.pathsep.join(filter(None, (str(HERE), os.environ.get("PYTHONPATH"))))
        )
        forkserver.ensure_running()
    return context


@pytest.mark.parametrize("backend", list(KILLS), indirect=True)
async def test_a_writer_killed_at_random_moments_always_leaves_a_complete_snapshot(
    backend: str, store_url: str, writers: ForkServerContext
) -> None:
    url = store_url + ("&lock_ttl=0.3" if backend == "redis" else "")
    rng = random.Random(f"crash-{backend}")
    mesh = small_mesh()
    epochs = []
    for round_ in range(KILLS[backend]):
        ours, theirs = writers.Pipe(duplex=False)
        writer = writers.Process(target=crash_writer.write_in_child, args=(url, theirs))
        writer.start()
        theirs.close()
        try:
            started = await asyncio.to_thread(ours.poll, 30)
            assert started, f"round {round_}: writer did not start"
            assert ours.recv() == "ready"
            await asyncio.sleep(rng.uniform(0.0, 0.06))
        finally:
            writer.kill()
            await asyncio.to_thread(writer.join)
            ours.close()

        with capture_logs() as logs:
            snap = await read_snapshot(url)
        assert [e for e in logs if e["event"] == "snapshot.corrupt"] == [], f"round {round_}"
        assert snap is not None
        assert consistency_errors(snap.state, mesh) == [], f"round {round_}: torn snapshot"
        epochs.append(snap.epoch)

    assert epochs == sorted(epochs)
    assert epochs[-1] > KILLS[backend], "the writers never got past their first full save"
    with capture_logs() as logs:
        manager = StateManager(open_store(url))
        await start_when_free(manager)
        try:
            assert await manager.load() is not None
        finally:
            await manager.stop()
    assert [e for e in logs if e["event"] == "snapshot.corrupt"] == []
