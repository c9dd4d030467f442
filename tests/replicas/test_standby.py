"""SQLite and file stores keep one writer; a second daemon waits as a standby and takes over
when the first dies (kill -9), carrying on from the stored state."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from replica_support import fleet_config, providers, replicas, start_replica, until

from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.state import SystemState
from modelmesh_healthd.storage import read_state


@pytest.mark.parametrize("scheme", ["sqlite", "file"])
async def test_a_standby_takes_over_a_single_writer_store_when_the_writer_is_killed(
    scheme: str, tmp_path: Path
) -> None:
    name = "state.db" if scheme == "sqlite" else "state.json"
    # SQLAlchemy's form for an absolute SQLite path has four slashes; a file URL has three.
    url = f"sqlite:///{tmp_path}/{name}" if scheme == "sqlite" else f"file://{tmp_path}/{name}"
    async with Simulator(providers(4)) as sim:
        config = tmp_path / "healthd.yaml"
        config.write_text(fleet_config(sim.base_url, url, 4, interval=0.3))
        async with replicas(config, 1) as running:
            first = running[0]
            await first.wait_for("daemon.started")
            second = await start_replica(config)
            running.append(second)
            standby = await second.wait_for("store.standby")
            sim.set_behaviour("p000", "key_revoked")
            before = await until(lambda: _down(url, None), "p000 down in the store")
            first.signal(signal.SIGKILL)
            killed = time.monotonic()
            await second.wait_for("daemon.started", within=60.0)
            took = time.monotonic() - killed
            after = await until(lambda: _down(url, before), "the standby carrying p000 on")
    assert standby["owner_pid"] == first.proc.pid
    assert took <= standby["retry_in_s"] + 5.0  # one attempt at the free lock, then start-up
    assert before is not None
    assert after is not None
    assert after.providers["p000"].down_reason == "auth_failure"
    assert (
        after.providers["p000"].consecutive_failures > before.providers["p000"].consecutive_failures
    )


async def _down(url: str, before: SystemState | None) -> SystemState | None:
    """The stored state once p000 is down, with a longer failure streak than in `before`."""
    state = await read_state(url)
    if state is None or not state.providers["p000"].down_reason:
        return None
    if before is not None and (
        state.providers["p000"].consecutive_failures
        <= before.providers["p000"].consecutive_failures
    ):
        return None
    return state
