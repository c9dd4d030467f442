"""A real daemon process talking to a notify socket that the test reads as systemd would."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from daemon_support import fleet
from ops_support import admin_config, daemon_process, notify_socket

from modelmesh_healthd.simulator import Simulator
from service_support import free_port


def _monotonic_usec() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


async def test_systemd_hears_ready_watchdog_reload_and_stopping(tmp_path: Path) -> None:
    config = tmp_path / "healthd.yaml"
    async with Simulator(fleet()) as sim:
        config.write_text(admin_config(sim.base_url, f"sqlite:///{tmp_path}/state.db"))
        with notify_socket() as sock:
            env = {"NOTIFY_SOCKET": sock.address, "WATCHDOG_USEC": "200000"}
            async with daemon_process(config, env) as daemon:
                ready = await sock.wait_for("READY", "1")
                assert ready["STATUS"] == "4/4 providers up, 0 down, 0 pending; no pool empty"
                started = await daemon.wait_for("daemon.started")
                assert daemon.named("admin.started")  # READY only once it can be checked
                assert started["restored"] is False
                await sock.wait_for("WATCHDOG", "1", count=3)
                first = next(i for i, (_, m) in enumerate(sock.messages) if "READY" in m)
                assert not any("WATCHDOG" in m for _, m in sock.messages[:first])

                before = _monotonic_usec()
                daemon.signal(signal.SIGHUP)
                reloading = await sock.wait_for("RELOADING", "1")
                after = _monotonic_usec()
                assert before <= int(reloading["MONOTONIC_USEC"]) <= after
                await sock.wait_for("READY", "1", count=2)
                await daemon.wait_for("daemon.reloaded")
                sequence = [k for _, m in sock.messages for k in m if k in ("RELOADING", "READY")]
                assert sequence == ["READY", "RELOADING", "READY"]

                daemon.signal(signal.SIGTERM)
                stopping = await sock.wait_for("STOPPING", "1")
                assert stopping["STATUS"].startswith("stopping")
                assert await daemon.finish() == 0
                last = max(i for i, (_, m) in enumerate(sock.messages) if "STOPPING" in m)
                assert not any("WATCHDOG" in m for _, m in sock.messages[last:])


async def test_an_abstract_notify_socket_hears_ready_and_stopping(tmp_path: Path) -> None:
    config = tmp_path / "healthd.yaml"
    async with Simulator(fleet()) as sim:
        config.write_text(admin_config(sim.base_url, f"sqlite:///{tmp_path}/state.db"))
        with notify_socket(abstract=True) as sock:
            assert sock.address.startswith("@")
            async with daemon_process(config, {"NOTIFY_SOCKET": sock.address}) as daemon:
                await sock.wait_for("READY", "1")
                daemon.signal(signal.SIGTERM)
                await sock.wait_for("STOPPING", "1")
                assert await daemon.finish() == 0
            assert sock.with_key("WATCHDOG") == []  # no WATCHDOG_USEC: no pings


async def test_a_watchdog_meant_for_another_process_gets_no_pings(tmp_path: Path) -> None:
    config = tmp_path / "healthd.yaml"
    async with Simulator(fleet()) as sim:
        config.write_text(admin_config(sim.base_url, f"sqlite:///{tmp_path}/state.db"))
        with notify_socket() as sock:
            env = {"NOTIFY_SOCKET": sock.address, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"}
            async with daemon_process(config, env) as daemon:
                await sock.wait_for("READY", "1")
                await asyncio.sleep(0.5)  # ten of that watchdog's intervals
                assert sock.with_key("WATCHDOG") == []
                daemon.signal(signal.SIGTERM)
                assert await daemon.finish() == 0


async def test_a_stalled_scheduler_stops_the_watchdog_pings(tmp_path: Path) -> None:
    config = tmp_path / "healthd.yaml"
    async with Simulator(fleet()) as sim:
        store = f"sqlite:///{tmp_path}/state.db"
        config.write_text(admin_config(sim.base_url, store, stall=True))
        with notify_socket() as sock:
            env = {"NOTIFY_SOCKET": sock.address, "WATCHDOG_USEC": "200000"}
            async with daemon_process(config, env) as daemon:
                await sock.wait_for("WATCHDOG", "1", count=2)
                # A busy host can stall the scheduler briefly before the hang (and resume it):
                # only a stall logged after the hang is the one that stops the pings.
                earlier = len(daemon.named("scheduler.stalled"))
                sim.set_behaviour("a", "hang")  # a's probe holds the only slot: all wait
                stalled = await daemon.wait_for("scheduler.stalled", after=earlier)
                assert stalled["in_flight"] == 1
                sock.drain()
                pings = len(sock.with_key("WATCHDOG"))
                await asyncio.sleep(1.0)  # ten watchdog intervals
                assert len(sock.with_key("WATCHDOG")) == pings
                daemon.signal(signal.SIGTERM)
                assert await daemon.finish() == 0
                stopped = daemon.named("daemon.stopped")[0]
                assert stopped["cancelled_probes"] == 1  # the hung probe, after the drain


async def test_waiting_for_a_store_that_is_down_asks_systemd_for_more_time(
    tmp_path: Path,
) -> None:
    config = tmp_path / "healthd.yaml"
    async with Simulator(fleet()) as sim:
        nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
        config.write_text(admin_config(sim.base_url, nowhere))
        with notify_socket() as sock:
            async with daemon_process(config, {"NOTIFY_SOCKET": sock.address}) as daemon:
                waiting = await sock.wait_for("EXTEND_TIMEOUT_USEC")
                assert waiting["STATUS"].startswith("waiting for the state store")
                assert int(waiting["EXTEND_TIMEOUT_USEC"]) > 30_000_000
                await daemon.wait_for("daemon.store_unavailable")
                assert sock.with_key("READY") == []
                daemon.signal(signal.SIGTERM)
                assert await daemon.finish() == 1
