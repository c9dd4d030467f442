"""`modelmesh-healthd health` against a live, a stalled, a hung and a missing daemon.

`health` runs as a real process against a live daemon and on a FIFO (where a hang would be the
failure); elsewhere it runs through the command line's entry point in this process, on a thread
of its own: what those tests show is the answer and the exit code, not the process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from daemon_support import fleet
from ops_support import (
    admin_config,
    admin_daemon,
    admin_url,
    daemon_process,
    health,
    health_process,
)

from modelmesh_healthd.simulator import Simulator
from service_support import free_port


def _listen() -> str:
    return f"127.0.0.1:{free_port()}"


async def test_a_live_daemon_is_healthy(tmp_path: Path) -> None:
    async with admin_daemon(tmp_path, listen=_listen()) as run:
        await run.wait_for("daemon.started")
        code, out = await health_process("-c", str(tmp_path / "healthd.yaml"))
    assert (code, out) == (0, "healthy: probes on schedule\n")


async def test_a_stalled_scheduler_is_unhealthy_though_the_endpoint_answers(
    tmp_path: Path,
) -> None:
    async with admin_daemon(tmp_path, listen=_listen(), stall=True) as run:
        await run.probes_of("a", 1)
        # A busy host can stall the scheduler briefly before the hang (and resume it): only a
        # stall logged after the hang is the one `health` must see.
        earlier = len(run.events("scheduler.stalled"))
        run.sim.set_behaviour("a", "hang")
        await run.wait_for("scheduler.stalled", after=earlier)
        code, out = await health("-c", str(tmp_path / "healthd.yaml"))
        async with httpx.AsyncClient(trust_env=False) as client:
            livez = await client.get(f"{admin_url(run)}/livez")
    assert code == 1
    assert out.startswith("unhealthy: scheduler stalled: a probe is ")
    assert livez.status_code == 503
    assert livez.json()["live"] is False


async def test_no_daemon_is_unhealthy_with_a_one_line_reason(tmp_path: Path) -> None:
    config = tmp_path / "healthd.yaml"
    listen = _listen()
    config.write_text(f'admin: {{listen: "{listen}"}}\n')
    code, out = await health("-c", str(config))
    assert code == 1
    assert out == f"unhealthy: no daemon answering at http://{listen}/livez (connection refused)\n"


async def test_a_hung_daemon_is_unhealthy_after_the_timeout(tmp_path: Path) -> None:
    config = tmp_path / "healthd.yaml"
    async with Simulator(fleet()) as sim:
        text = admin_config(sim.base_url, f"sqlite:///{tmp_path}/state.db", listen=_listen())
        config.write_text(text)
        async with daemon_process(config, {}) as daemon:
            await daemon.wait_for("daemon.started")
            daemon.signal(signal.SIGSTOP)  # the whole process frozen, its socket still open
            try:
                code, out = await health("-c", str(config), "--timeout", "0.5")
            finally:
                daemon.signal(signal.SIGCONT)
            daemon.signal(signal.SIGTERM)
            assert await daemon.finish() == 0
    assert code == 1
    assert "within 0.5s: daemon hung" in out


async def test_health_reads_only_the_admin_section_so_it_needs_no_api_keys(
    tmp_path: Path,
) -> None:
    listen = _listen()
    async with admin_daemon(tmp_path, listen=listen) as run:
        await run.wait_for("daemon.started")
        other = tmp_path / "as-deployed.yaml"
        other.write_text(
            f'admin: {{listen: "{listen}"}}\n'
            "providers:\n  openai:\n    kind: openai\n"
            "    api_key: ${OPENAI_KEY_NOT_IN_THIS_SHELL}\n"
        )
        code, out = await health("-c", str(other))
    assert (code, out) == (0, "healthy: probes on schedule\n")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("admin: {listen: nowhere}\n", "admin.listen"),
        ("admin: [\n", "not valid YAML"),
        ("admin: {listen: '${ADMIN_LISTEN}'}\n", "ADMIN_LISTEN is not set"),
    ],
)
async def test_a_bad_admin_section_is_unhealthy_never_exit_2(
    tmp_path: Path, text: str, words: str
) -> None:
    config = tmp_path / "healthd.yaml"
    config.write_text(text)
    code, out = await health("-c", str(config))
    assert code == 1  # Docker reserves 2
    assert words in out


async def test_a_missing_config_file_is_unhealthy(tmp_path: Path) -> None:
    code, out = await health("-c", str(tmp_path / "nope.yaml"))
    assert code == 1
    assert "cannot read" in out


async def test_a_fifo_named_as_the_config_is_unhealthy_at_once_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "healthd.yaml"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    code, out = await asyncio.wait_for(health_process("-c", str(fifo)), timeout=30)
    assert code == 1
    assert "cannot read: is a FIFO, not a regular file" in out


async def test_without_admin_the_heartbeat_file_answers(tmp_path: Path) -> None:
    state_dir = tmp_path / "state-dir"
    state_dir.mkdir()
    env = {"STATE_DIRECTORY": str(state_dir)}
    config = str(tmp_path / "healthd.yaml")
    async with admin_daemon(tmp_path, listen=None, environ=env) as run:
        await run.wait_for("daemon.started")
        await run.wait_until((state_dir / "heartbeat.json").exists, what="heartbeat")
        live = await health("-c", config, env=env)
        explicit = await health("--heartbeat", str(state_dir / "heartbeat.json"))
    gone = await health("-c", config, env=env)
    nowhere = await health("-c", config)
    assert live == (0, "healthy: probes on schedule\n")
    assert explicit == live
    assert gone[0] == 1
    assert "not running" in gone[1]  # the daemon removed its heartbeat at stop
    assert nowhere[0] == 1
    assert "no heartbeat file to read" in nowhere[1]


async def test_without_admin_a_stalled_scheduler_shows_in_the_heartbeat(tmp_path: Path) -> None:
    env = {"STATE_DIRECTORY": str(tmp_path)}
    async with admin_daemon(tmp_path, listen=None, stall=True, environ=env) as run:
        await run.probes_of("a", 1)
        # A busy host can stall the scheduler briefly before the hang (and resume it): only a
        # stall logged after the hang is the one `health` must see.
        earlier = len(run.events("scheduler.stalled"))
        run.sim.set_behaviour("a", "hang")
        await run.wait_for("scheduler.stalled", after=earlier)
        # The heartbeat is rewritten every stall_after/4 = 0.25 s; `health` in this process
        # answers in milliseconds, so it is asked again after a pause, for up to 30 s (a stall
        # logged just before the hang may have resumed, and the heartbeat is only then stale).
        deadline = time.monotonic() + 30.0
        while True:
            code, out = await health("-c", str(tmp_path / "healthd.yaml"), env=env)
            if code == 1 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
    assert code == 1
    assert out.startswith("unhealthy: scheduler stalled")


async def test_an_unreadable_config_falls_back_to_the_heartbeat_when_there_is_one(
    tmp_path: Path,
) -> None:
    env = {"STATE_DIRECTORY": str(tmp_path)}
    async with admin_daemon(tmp_path, listen=None, environ=env) as run:
        await run.wait_for("daemon.started")
        await run.wait_until((tmp_path / "heartbeat.json").exists, what="heartbeat")
        code, out = await health("-c", str(tmp_path / "not-there.yaml"), env=env)
    assert code == 0
    assert out.startswith("healthy: probes on schedule (heartbeat file; no admin settings: ")


async def test_a_daemon_listening_on_every_interface_is_asked_on_loopback(
    tmp_path: Path,
) -> None:
    listen = _listen()
    async with admin_daemon(tmp_path, listen=listen) as run:  # really bound to 127.0.0.1
        await run.wait_for("daemon.started")
        as_deployed = tmp_path / "container.yaml"
        as_deployed.write_text(f'admin: {{listen: "0.0.0.0:{listen.rpartition(":")[2]}"}}\n')
        code, out = await health("-c", str(as_deployed))
    assert (code, out) == (0, "healthy: probes on schedule\n")
