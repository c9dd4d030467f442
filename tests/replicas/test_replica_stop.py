"""A replica's stop ends even when a coordinator round swallows the stop's cancellation.

On Python 3.11, `asyncio.wait_for` returns the result of the call it wraps when that call
finished just as the cancellation arrived, and its caller carries on. redis-py sends every
command through it: a stop landing in that instant of a round left the round loop running and
the stop waiting for it for ever. The round below swallows the cancellation the way `wait_for`
does, at a moment the test chooses (real Redis and PostgreSQL stores, a real daemon)."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from modelmesh_healthd.config import load_config_text
from modelmesh_healthd.daemon.coordination import Coordinator
from modelmesh_healthd.daemon.replica_options import replica_options
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.storage import open_store

CONFIG = """
daemon: {drain_timeout: 1s, summary_interval: 0}
schedule: {interval: 30s, jitter: 0}
admin: {enabled: false}
providers:
  p: {kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-test-replica-stop}
"""


async def test_a_stop_ends_a_round_that_carried_on_after_its_cancellation(
    shared_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = Daemon(
        load_config_text(CONFIG, environ={}),
        store_url=f"{shared_url}&replicas=on&lease_ttl=1.5",
        environ={},
    )
    in_round = asyncio.Event()
    swallowed: list[str] = []
    original = Coordinator.round

    async def round_swallowing_a_cancellation(self: Coordinator) -> float:
        if daemon.ready and not swallowed:  # a round of the loop, not start()'s
            in_round.set()
            try:
                await asyncio.Event().wait()  # the store call the stop's cancellation lands in
            except asyncio.CancelledError:
                swallowed.append(self.member)  # ... and that returns all the same
        return await original(self)

    monkeypatch.setattr(Coordinator, "round", round_swallowing_a_cancellation)
    with capture_logs() as logs:
        run = asyncio.create_task(daemon.run())
        try:
            await asyncio.wait_for(in_round.wait(), 30.0)
            daemon.request_stop("test")
            done, _ = await asyncio.wait({run}, timeout=30.0)  # for ever before the fix
            assert run in done, "the stop waited for a round loop that never ended"
        finally:
            run.cancel()
    assert run.result() == 0
    assert swallowed
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "replica"]
    events = [e["event"] for e in logs]
    assert "replica.left" in events  # the leases went at once, not after a TTL
    assert events[-1] == "daemon.stopped"


async def test_a_round_loop_that_outlives_the_leave_does_not_join_again(shared_url: str) -> None:
    daemon = Daemon(
        load_config_text(CONFIG, environ={}),
        store_url=f"{shared_url}&replicas=on&lease_ttl=1.5",
        environ={},
    )
    bare, ttl = replica_options(daemon.store_url)
    assert ttl is not None
    coordinator = Coordinator(daemon, open_store(bare), ttl)
    async with coordinator.store:
        await coordinator.start()
        await coordinator.stop()
        # Before any round: a loop still running after the leave would heartbeat (join) again.
        await asyncio.wait_for(coordinator.run(), 30.0)
        assert coordinator.members == (coordinator.member,)  # from start(), none since
