"""The daemon and its store together: reading the state from elsewhere, and a Redis outage."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from daemon_support import running_daemon

from command_support import call_main
from modelmesh_healthd import read_state  # the public read API for routers
from service_support import RedisServerFactory


async def status(*args: str) -> tuple[int, str]:
    """`status ARGS` as another process, reading what the daemon in this one wrote."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "modelmesh_healthd",
        "status",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert b"Traceback" not in err
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def status_here(*args: str) -> tuple[int, str]:
    """`status ARGS` through the entry point in this process: its exit code and stderr."""
    done = call_main(["status", *args])
    assert "Traceback" not in done.stderr
    return done.code, done.stderr


async def test_status_reads_the_state_while_the_daemon_runs(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/state.db"
    async with running_daemon(tmp_path, store_url=store) as run:
        await run.probes_of("b", 1)
        run.sim.set_behaviour("b", "key_revoked")
        await run.wait_for("provider.down", provider="b")
        await run.daemon.manager.sync()  # type: ignore[union-attr]  # set once started

        code, out = await status("--store", store, "--json")
        assert code == 0
        table = json.loads(out)
        providers = {p["provider"]: p for p in table["providers"]}
        assert providers["b"]["health"] == "down"
        assert providers["b"]["reason"].startswith("auth_failure")
        assert providers["a"]["health"] == "up"
        pools = {p["pool"]: p for p in table["pools"]}
        assert ["b.claude", "auth_failure"] in pools["premium"]["standby"]
        assert table["writer_id"] == run.daemon.writer_id

        code, out = await status("--store", store)
        assert code == 0
        assert "auth_failure" in out
        assert out.count("\n") > 8
        assert not run.task.done()  # reading took no lock the daemon needs


def test_status_of_an_empty_store_exits_1(tmp_path: Path) -> None:
    code, _ = status_here("--store", f"sqlite:///{tmp_path}/none.db")
    assert code == 1


async def test_a_redis_outage_under_the_daemon_loses_nothing(
    tmp_path: Path, redis_server_factory: RedisServerFactory
) -> None:
    redis = redis_server_factory()
    store = f"{redis.url}?prefix=healthd-outage&lock_ttl=3"
    async with running_daemon(tmp_path, store_url=store) as run:
        await run.wait_for("daemon.started")
        await run.probes_of("a", 1)
        redis.kill()
        run.sim.set_behaviour("c", "key_revoked")  # a change while the store is down
        await run.wait_for("provider.down", provider="c")
        await run.wait_for("snapshot.save_failed")
        await run.probes_of("a", 3)  # probing goes on
        redis.start()
        await run.wait_for("snapshot.save_recovered")
        state = await read_state(store)
        assert state is not None
        assert state.providers["c"].down_reason == "auth_failure"
        assert "c.flash" in state.pools["chat"].standby_models
        assert await run.stop() == 0


async def test_the_daemon_waits_for_a_store_that_is_down_at_start(
    tmp_path: Path, redis_server_factory: RedisServerFactory
) -> None:
    redis = redis_server_factory()
    redis.kill()
    store = f"{redis.url}?prefix=healthd-late"
    async with running_daemon(tmp_path, store_url=store) as run:
        waiting = await run.wait_for("daemon.store_unavailable")
        assert waiting["retry_in_s"] >= 1.0
        assert not run.daemon.ready
        redis.start()
        await run.wait_for("daemon.started", within=30)
        await run.probes_of("a", 1)
        assert run.daemon.ready


async def test_a_daemon_whose_store_is_taken_over_stops_with_exit_1(
    tmp_path: Path, redis_server_factory: RedisServerFactory
) -> None:
    import redis as redis_client

    redis = redis_server_factory()
    store = f"{redis.url}?prefix=healthd-takeover:&lock_ttl=2"
    async with running_daemon(tmp_path, store_url=store) as run:
        await run.wait_for("daemon.started")
        client = redis_client.Redis.from_url(redis.url)
        client.set("healthd-takeover:lock", b'{"writer_id": "another"}')  # a successor's lease
        client.close()
        code = await asyncio.wait_for(run.task, 30)
        assert code == 1
        assert run.events("daemon.lock_lost")


def test_a_bad_store_url_is_a_configuration_error_without_a_traceback(
    tmp_path: Path,
) -> None:
    code, _ = status_here("--store", "bogus://x")
    assert code == 2
    run = call_main(
        ["run", "-c", "config/demo.yaml", "--store", "bogus://x"],
        cwd=Path(__file__).resolve().parents[2],
    )
    assert run.code == 2
    # The URL came from --store, so --store is named, not the configuration file.
    assert run.stderr.strip() == (
        "--store: unknown state store URL scheme 'bogus' in 'bogus://x'; "
        "known: file, memory, postgres, postgresql, redis, rediss, sqlite"
    )


def test_an_unreachable_store_names_it_without_its_password() -> None:
    code, err = status_here("--store", "redis://:hunter2-secret@127.0.0.1:1/0")
    assert code == 1
    assert "redis://:***@127.0.0.1:1/0" in err
    assert "hunter2-secret" not in err
