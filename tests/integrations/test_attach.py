"""attach() against real stores: notifications, polling, staleness, sync and async programs."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from mm_support import A, B, make_mesh, statuses, writer

from modelmesh_healthd.integrations.modelmesh import attach
from modelmesh_healthd.storage import StoreURLError
from service_support import RedisServerFactory


async def until(check: Any, within: float, what: str) -> float:
    """Wait for `check()`; returns the seconds it took."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < within, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def a_is(mesh: Any, status: str) -> bool:
    return all(s[A] == status for s in statuses(mesh).values())


@pytest.mark.parametrize("backend", ["sqlite", "file"])
async def test_polled_stores_reach_the_pools_within_one_poll(tmp_path: Path, backend: str) -> None:
    url = f"sqlite://{tmp_path}/s.db" if backend == "sqlite" else f"file://{tmp_path}/s.json"
    mesh = make_mesh()
    async with writer(url) as w, attach(mesh, store=url, poll_interval=0.2) as attached:
        await until(lambda: attached.reads > 0, 5, "the first read")
        await w.down()
        await until(lambda: a_is(mesh, "standby"), 2.0, "standby after one poll")
        await w.up()
        await until(lambda: a_is(mesh, "active"), 2.0, "reactivation after one poll")


async def test_redis_changes_arrive_by_notification_not_by_the_resync_timer(
    redis_url: str,
) -> None:
    mesh = make_mesh()
    async with (
        writer(redis_url) as w,
        attach(mesh, store=redis_url, resync_interval=60.0) as attached,
    ):
        await until(lambda: attached.reads > 0, 5, "the first read")
        await asyncio.sleep(0.3)  # the subscription is in place
        await w.down()
        took = await until(lambda: a_is(mesh, "standby"), 5.0, "standby by notification")
        assert took < 60.0
        await w.up()
        await until(lambda: a_is(mesh, "active"), 5.0, "reactivation by notification")


async def test_postgres_changes_arrive_by_notification_not_by_the_resync_timer(
    postgres_url: str,
) -> None:
    mesh = make_mesh()
    async with (
        writer(postgres_url) as w,
        attach(mesh, store=postgres_url, resync_interval=60.0) as attached,
    ):
        await until(lambda: attached.reads > 0, 5, "the first read")
        await asyncio.sleep(0.3)
        await w.down()
        await until(lambda: a_is(mesh, "standby"), 5.0, "standby by notification")
        await w.up()
        await until(lambda: a_is(mesh, "active"), 5.0, "reactivation by notification")


async def test_a_store_outage_keeps_the_verdicts_then_goes_stale_and_hands_the_pools_back(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    url = f"redis://127.0.0.1:{server.port}/0"
    mesh = make_mesh()
    async with writer(url) as w:
        await w.down()
    attached = attach(mesh, store=url, poll_interval=0.1, resync_interval=0.2, stale_after=1.5)
    async with attached:
        await until(lambda: a_is(mesh, "standby"), 5, "the daemon's standby")
        server.kill()
        await asyncio.sleep(0.8)
        assert a_is(mesh, "standby")  # within stale_after: the last known verdict holds
        assert not attached.stale
        await until(lambda: attached.stale, 10, "staleness")
        assert a_is(mesh, "active")  # handed back: ModelMesh's own rules again

        server.start()
        async with writer(url) as w:
            await w.down()
            await until(lambda: not attached.stale and a_is(mesh, "standby"), 10, "fresh again")


async def test_close_hands_back_what_attach_put_on_standby(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/s.db"
    mesh = make_mesh()
    async with writer(url) as w:
        await w.down()
    attached = attach(mesh, store=url, poll_interval=0.1)
    await until(lambda: a_is(mesh, "standby"), 5, "the daemon's standby")
    await attached.aclose()
    assert a_is(mesh, "active")
    assert attached.stale is False


def test_a_sync_program_gets_a_background_thread_that_stops_on_close(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/s.db"

    async def write_down() -> None:
        async with writer(url) as w:
            await w.down()

    asyncio.run(write_down())
    mesh = make_mesh()
    before = set(threading.enumerate())
    with attach(mesh, store=url, poll_interval=0.1) as attached:
        assert attached.wait_synced(5.0)
        assert a_is(mesh, "standby")
        started = set(threading.enumerate()) - before
        assert [t.name for t in started] == ["modelmesh-healthd-attach"]
    assert not any(t.is_alive() for t in started)
    assert a_is(mesh, "active")


async def test_an_empty_store_changes_nothing(tmp_path: Path) -> None:
    mesh = make_mesh()
    mesh.rotate("chat")
    async with attach(mesh, store=f"sqlite://{tmp_path}/none.db", poll_interval=0.1) as attached:
        await until(lambda: attached.reads > 1, 5, "two reads")
        assert statuses(mesh)["chat"] == {A: "standby", B: "active"}
        assert attached.changes == []


def test_a_bad_store_url_is_said_at_once(tmp_path: Path) -> None:
    with pytest.raises(StoreURLError, match="unknown state store URL scheme"):
        attach(make_mesh(), store="mysql://127.0.0.1/db")


def test_only_a_modelmesh_or_its_client_can_be_attached() -> None:
    with pytest.raises(TypeError, match="ModelMesh or MeshClient"):
        attach(object(), store="memory://x")


def test_a_non_positive_interval_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="poll_interval must be > 0"):
        attach(make_mesh(), store="memory://x", poll_interval=0)


async def test_neither_the_store_password_nor_the_reports_token_shows_in_a_repr(
    redis_url: str,
) -> None:
    from modelmesh_healthd.integrations.modelmesh import ReportSender

    url = redis_url.replace("redis://", "redis://:s3cret-pw@", 1)
    async with attach(make_mesh(), store=url, stale_after=60) as attached:
        assert "s3cret-pw" not in repr(attached)
    sender = ReportSender("http://127.0.0.1:9", "tok-s3cret")
    assert "tok-s3cret" not in repr(sender)
    await sender.aclose()
