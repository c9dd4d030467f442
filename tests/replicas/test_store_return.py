"""A store coming back is noticed at once: pinged every second while out of reach, the newest
state in it within 3 s of its return; the final save at stop is reported truthfully."""

from __future__ import annotations

import asyncio
import time

from structlog.testing import capture_logs

from modelmesh_healthd.state import Mesh, Observation, Outcome, SystemState, apply_probe
from modelmesh_healthd.state.transition import initial_state
from modelmesh_healthd.storage import StateManager, open_store, read_state
from service_support import RedisServerFactory

MESH = Mesh.build(["a", "b"], {"a/m": "a", "b/m": "b"}, {"chat": ["a/m", "b/m"]})


def probe(state: SystemState, step: int) -> list:  # type: ignore[type-arg]
    outcome = Outcome.OK if step % 5 else Outcome.CONNECT_ERROR
    return apply_probe(MESH, state, "ab"[step % 2], Observation(outcome, latency=0.01), 1e6 + step)


async def stored_matches(url: str, state: SystemState) -> bool:
    try:
        stored = await read_state(url)
    except Exception:  # noqa: BLE001 - the store is still coming back
        return False
    return stored is not None and stored.to_dict() == state.to_dict()


async def test_the_newest_state_is_in_a_returning_redis_within_3_s_after_a_long_outage(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    url = f"{server.url}?prefix=return:&timeout=0.5"
    manager = StateManager(open_store(url))  # the daemon's default retry settings
    state = initial_state(MESH)
    with capture_logs() as logs:
        await manager.start()
        manager.attach(state, MESH)
        await manager.wait_idle()
        await asyncio.to_thread(server.kill)
        # Changes keep coming during a 7 s outage: long enough that a retry delay doubling from
        # 0.5 s would be at 4 s, and would have tried 4 times where a ping a second tries 7.
        for step in range(14):
            manager.record(probe(state, step))
            await asyncio.sleep(0.5)
        await asyncio.to_thread(server.start)
        back = time.monotonic()
        while not await stored_matches(url, state):
            assert time.monotonic() - back <= 3.0, "the newest state is not in the store 3 s on"
            await asyncio.sleep(0.05)
        await manager.stop()
    waits = [e["retry_in_s"] for e in logs if e["event"] == "snapshot.save_failed"]
    assert len(waits) >= 5  # tried about every second, not backed off to 30 s
    assert max(waits) <= 1.0


async def test_stop_reports_saved_when_its_final_write_lands_after_a_failed_sync(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    url = f"{server.url}?prefix=stop:&timeout=0.5"
    manager = StateManager(open_store(url))
    state = initial_state(MESH)
    await manager.start()
    manager.attach(state, MESH)
    await manager.wait_idle()
    await asyncio.to_thread(server.kill)
    manager.record(probe(state, 0))
    assert not await manager.sync()
    await asyncio.to_thread(server.start)
    with capture_logs() as logs:
        saved = await manager.stop()
    assert "snapshot.save_recovered" in [e["event"] for e in logs]
    assert saved is True
    assert await stored_matches(url, state)


async def test_stop_reports_not_saved_while_the_store_is_down(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    url = f"{server.url}?prefix=down:&timeout=0.5"
    manager = StateManager(open_store(url))
    state = initial_state(MESH)
    await manager.start()
    manager.attach(state, MESH)
    await manager.wait_idle()
    await asyncio.to_thread(server.kill)
    manager.record(probe(state, 0))
    assert await manager.stop() is False
