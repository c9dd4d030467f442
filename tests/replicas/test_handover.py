"""A provider changing hands is not probed twice: the schedule follows the last probe sent, and a
lease with a probe in flight is handed over only after that probe (real Redis and PostgreSQL
stores; the coordinator and scheduler in this process, no rounds running)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from clock_support import ManualClock
from modelmesh_healthd.config import load_config_text
from modelmesh_healthd.daemon.coordination import Coordinator
from modelmesh_healthd.daemon.replica_options import replica_options
from modelmesh_healthd.daemon.scheduler import Scheduler
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.state import initial_state
from modelmesh_healthd.storage import open_store
from modelmesh_healthd.storage.coordination import provider_shard

WALL = 1_000_000.0
INTERVAL = 30.0
CONFIG = f"""
schedule: {{interval: {INTERVAL:g}s, jitter: 0}}
admin: {{enabled: false}}
providers:
  p: {{kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-test-handover}}
"""


@asynccontextmanager
async def replica(
    url: str, job: object = None, clock: ManualClock | None = None
) -> AsyncIterator[tuple[Daemon, Coordinator]]:
    """A daemon (not started) with its coordinator, scheduler (on `clock`, else the loop's)
    and provider `p` in place."""
    bare, ttl = replica_options(f"{url}&replicas=on&lease_ttl=5")
    assert ttl is not None
    daemon = Daemon(load_config_text(CONFIG, environ={}), store_url=bare, wall_clock=lambda: WALL)
    coordinator = Coordinator(daemon, open_store(bare), ttl)
    daemon.coordinator = coordinator
    daemon.core.state = initial_state(daemon.mesh)

    async def idle(name: str, due: float) -> float | None:
        return None

    daemon.scheduler = Scheduler(job or idle, concurrency=4, clock=clock)  # type: ignore[arg-type]
    daemon._apply_config()  # a replica's coordinator schedules only what it owns
    yield daemon, coordinator


async def test_a_lease_claimed_back_schedules_from_the_probe_last_sent(shared_url: str) -> None:
    # A clock that stands still: the due time is read exactly, whatever the host's load.
    async with replica(shared_url, clock=ManualClock()) as (daemon, coordinator):
        daemon.state.providers["p"].last_probe = WALL - 100.0  # the last probe recorded
        coordinator.probing("p", WALL - 0.5)  # a later one whose result was discarded
        coordinator.leases.grant(provider_shard("p"), 1, float("inf"))
        coordinator.schedule_owned()
        assert daemon.scheduler is not None
        due = daemon.scheduler.due_of("p")
        now = daemon.scheduler.now()
    assert due is not None
    assert due - now == INTERVAL - 0.5  # not at once: one interval after the probe sent


async def test_a_lease_with_a_probe_in_flight_is_kept_until_the_probe_is_done(
    shared_url: str,
) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def probe(name: str, due: float) -> float | None:
        started.set()
        await release.wait()
        return due + INTERVAL

    async with replica(shared_url, probe) as (daemon, coordinator):
        scheduler = daemon.scheduler
        assert scheduler is not None
        shard = provider_shard("p")
        coordinator.leases.grant(shard, 1, float("inf"))
        scheduler.add("p", scheduler.now())
        runner = asyncio.create_task(scheduler.run())
        await asyncio.wait_for(started.wait(), 30)
        busy = coordinator._stop_probing({shard: 1})
        idle = coordinator._stop_probing({shard: 1})  # asked again while it still runs
        release.set()
        for _ in range(300):
            if not scheduler.running("p"):
                break
            await asyncio.sleep(0.01)
        after = coordinator._stop_probing({shard: 1})
        scheduler.stop()
        runner.cancel()
    assert busy == {shard}
    assert idle == {shard}
    assert after == set()
    assert "p" not in scheduler  # not scheduled again once its probe came back
