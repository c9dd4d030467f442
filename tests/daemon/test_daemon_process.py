"""The daemon as a real process: JSON log lines on stdout, signals, exit codes."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from pathlib import Path

from daemon_support import config_text, fleet
from ops_support import daemon_process

from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.storage import read_state


async def test_sigterm_stops_cleanly_with_the_final_state_saved(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/state.db"
    config = tmp_path / "healthd.yaml"
    async with Simulator(fleet()) as sim:
        config.write_text(config_text(sim.base_url, store))
        async with daemon_process(config) as daemon:
            await daemon.wait_for("daemon.started")
            sim.set_behaviour("b", "key_revoked")
            await daemon.wait_for("provider.down", provider="b")
            daemon.signal(signal.SIGTERM)
            assert await daemon.finish() == 0
            stopped = daemon.named("daemon.stopped")[0]
            assert (stopped["reason"], stopped["saved"]) == ("SIGTERM", True)
            assert all(e["level"] in ("info", "warning", "error", "debug") for e in daemon.events)
    state = await read_state(store)
    assert state is not None
    assert state.providers["b"].down_reason == "auth_failure"
    assert "b.claude" in state.pools["chat"].standby_models


async def test_sighup_with_a_broken_file_keeps_running_and_a_good_one_is_applied(
    tmp_path: Path,
) -> None:
    store = f"sqlite:///{tmp_path}/state.db"
    config = tmp_path / "healthd.yaml"
    async with Simulator(fleet()) as sim:
        good = config_text(sim.base_url, store)
        config.write_text(good)
        async with daemon_process(config) as daemon:
            await daemon.wait_for("daemon.started")
            sim.set_behaviour("b", "key_revoked")
            await daemon.wait_for("provider.down", provider="b")

            config.write_text(good.replace("interval: 0.3s", "interval: soon"))
            daemon.signal(signal.SIGHUP)
            invalid = await daemon.wait_for("config.invalid")
            assert any("schedule.interval" in line for line in invalid["errors"])
            before = sim.requests("a")
            deadline = time.monotonic() + 10
            while sim.requests("a") < before + 3:  # still probing (healthy probes log at debug)
                assert time.monotonic() < deadline, "probing stopped after the invalid reload"
                await asyncio.sleep(0.05)

            # Provider c leaves; the OpenAI-compatible d gets a new key: probed at once.
            changed = (
                good.replace(
                    '  c: {kind: gemini, base_url: "' + sim.base_url + '/c", '
                    "api_key: AIza-test-c}\n",
                    "",
                )
                .replace("  c.flash: {provider: c, name: gemini-flash}\n", "")
                .replace(", c.flash", "")
                .replace("api_key: gsk-test-d", "api_key: gsk-rotated-d")
            )
            config.write_text(changed)
            sim.set_behaviour("d", api_key="gsk-rotated-d")
            daemon.signal(signal.SIGHUP)
            reloaded = await daemon.wait_for("daemon.reloaded")
            assert (reloaded["removed"], reloaded["changed"]) == (["c"], ["d"])
            assert (await daemon.wait_for("provider.removed"))["provider"] == "c"
            # b's state survived the reload: still down, not re-learned.
            assert not daemon.named("provider.up", provider="b")
            daemon.signal(signal.SIGTERM)
            assert await daemon.finish() == 0
    state = await read_state(store)
    assert state is not None
    assert set(state.providers) == {"a", "b", "d"}
    assert state.providers["b"].down_reason == "auth_failure"


async def test_a_bad_configuration_exits_2_with_the_reason(tmp_path: Path) -> None:
    config = tmp_path / "healthd.yaml"
    config.write_text("providers:\n  x: {kind: openai, api_key: k, base_ur: http://x}\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "modelmesh_healthd",
        "run",
        "-c",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 2
    assert b"providers.x.base_ur: unknown key" in err
    assert b"Traceback" not in err


async def test_a_second_sigint_cuts_the_drain_short(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/state.db"
    config = tmp_path / "healthd.yaml"
    async with Simulator(fleet()) as sim:
        text = config_text(sim.base_url, store).replace("drain_timeout: 2s", "drain_timeout: 60s")
        config.write_text(text.replace("timeout: 1s", "timeout: 60s"))
        async with daemon_process(config) as daemon:
            await daemon.wait_for("daemon.started")
            sim.set_behaviour("a", "hang")  # its next probe waits 60 s for an answer
            before = sim.requests("a")
            deadline = time.monotonic() + 30
            while sim.requests("a") == before:  # a probe of a is now hanging
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            daemon.signal(signal.SIGINT)
            stopping = await daemon.wait_for("daemon.stopping")
            assert stopping["drain_timeout_s"] == 60.0
            daemon.signal(signal.SIGINT)
            assert await daemon.finish(within=15) == 0
            assert daemon.named("daemon.stop_forced")[0]["in_flight"] >= 1
            stopped = daemon.named("daemon.stopped")[0]
            assert stopped["cancelled_probes"] >= 1
            assert stopped["saved"] is True


async def test_a_second_daemon_with_the_same_configuration_names_the_lock_owner(
    tmp_path: Path,
) -> None:
    with socket.socket() as probe_port:
        probe_port.bind(("127.0.0.1", 0))
        port = probe_port.getsockname()[1]
    store = f"sqlite:///{tmp_path}/state.db"
    config = tmp_path / "healthd.yaml"
    async with Simulator(fleet()) as sim:
        text = config_text(sim.base_url, store).replace(
            "admin: {enabled: false}", f'admin: {{listen: "127.0.0.1:{port}"}}'
        )
        config.write_text(text)
        async with daemon_process(config) as first:
            started = await first.wait_for("daemon.started")
            async with daemon_process(config) as second:
                locked = await second.wait_for("store.locked")
                assert locked["owner_pid"] == first.proc.pid
                await second.wait_for("store.standby")
                assert not second.named("admin.failed")  # the lock is what it reports
                assert first.proc.returncode is None
                assert started["store"] == store
                first.signal(signal.SIGTERM)
                assert await first.finish() == 0
                await second.wait_for("daemon.started")  # the standby took over
                second.signal(signal.SIGTERM)
                assert await second.finish() == 0
