"""Crash safety: a writer process SIGKILLed at random moments never leaves a torn snapshot.

Each round starts a writer process (start, load, reconcile, full save, then probing and writing
under `immediate` as fast as it can), kills it at a random moment, and reads the store: it must
load complete (every provider, model and pool present) and consistent (the cross-row invariants
of the core hold), i.e. be the previous write or the newest, never a mix. The next round's writer
also has to reclaim the dead writer's lock.
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

import pytest
from storage_support import consistency_errors, small_mesh, start_when_free
from structlog.testing import capture_logs

from modelmesh_healthd.storage import StateManager, open_store, read_snapshot

WRITER = Path(__file__).with_name("crash_writer.py")
KILLS = {"file": 30, "sqlite": 30, "redis": 8, "postgres": 8}


@pytest.mark.parametrize("backend", list(KILLS), indirect=True)
async def test_a_writer_killed_at_random_moments_always_leaves_a_complete_snapshot(
    backend: str, store_url: str
) -> None:
    url = store_url + ("&lock_ttl=0.3" if backend == "redis" else "")
    rng = random.Random(f"crash-{backend}")
    mesh = small_mesh()
    epochs = []
    for round_ in range(KILLS[backend]):
        writer = await asyncio.create_subprocess_exec(
            sys.executable,
            str(WRITER),
            "write",
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            assert writer.stdout is not None
            ready = await asyncio.wait_for(writer.stdout.readline(), 30)
            assert ready == b"ready\n", f"round {round_}: writer did not start"
            await asyncio.sleep(rng.uniform(0.0, 0.06))
        finally:
            writer.kill()
            await writer.wait()

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
