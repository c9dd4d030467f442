"""Supervision's gating: watchdog pings and heartbeats follow the scheduler's progress.

The daemon around it is a stand-in whose scheduler can be made to stall on demand; the notify
socket, the heartbeat file and the timing loop are the real ones.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ops_support import notify_socket
from structlog.testing import capture_logs

from modelmesh_healthd.config import Config
from modelmesh_healthd.daemon.scheduler import SchedulerStats
from modelmesh_healthd.daemon.supervision import Supervision
from modelmesh_healthd.state import Mesh, SystemState


async def eventually(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.01)


class StallableScheduler:
    """What Supervision reads of a Scheduler, with the progress set by the test."""

    def __init__(self) -> None:
        self.stats = SchedulerStats()
        self.in_flight = 0
        self.late_by = 0.0

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def overdue(self) -> float:
        return self.late_by

    def completes(self) -> None:
        self.late_by = 0.0
        self.stats.last_completed_at = self.now()

    def stalls(self) -> None:
        self.late_by = 30.0
        self.stats.last_completed_at = self.now() - 30.0


class StandInDaemon:
    """A DaemonView (what Supervision and its metrics read), with the scheduler set by the test."""

    def __init__(self, environ: dict[str, str], counts: dict[str, Any] | None = None) -> None:
        self.environ = environ
        self.writer_id = "test:1:default"
        self.config = Config.model_validate(
            {"daemon": {"stall_after": 0.5}, "admin": {"enabled": False}}
        )
        self.scheduler = StallableScheduler()
        self.state = SystemState()
        self.mesh = Mesh.build(providers=[], models={}, pools={})
        self.probed: list[str] = []
        self.policy = self.config.policy()
        self.manager = None
        self.ready = True
        self._counts = counts or {
            "providers": 4,
            "up": 3,
            "down": 1,
            "pending": 0,
            "held": 0,
            "empty_pools": [],
        }

    def counts(self) -> dict[str, Any]:
        return self._counts

    def wall_clock(self) -> float:
        return 1_000_000.0


async def test_watchdog_pings_stop_while_the_scheduler_is_stalled_and_resume_after(
    tmp_path: Path,
) -> None:
    with notify_socket() as sock, capture_logs() as logs:
        env = {
            "NOTIFY_SOCKET": sock.address,
            "WATCHDOG_USEC": "100000",  # a ping every 50 ms
            "STATE_DIRECTORY": str(tmp_path),
        }
        daemon = StandInDaemon(env)
        supervision = Supervision(daemon, daemon.environ)
        daemon.scheduler.completes()
        supervision.started()
        assert (await sock.wait_for("READY", "1"))["STATUS"].startswith("3/4 providers up")
        await sock.wait_for("WATCHDOG", "1", count=3)

        daemon.scheduler.stalls()
        await eventually(lambda: any(e["event"] == "scheduler.stalled" for e in logs))
        sock.drain()
        pings_before = len(sock.with_key("WATCHDOG"))
        await asyncio.sleep(0.5)  # ten watchdog intervals
        assert len(sock.with_key("WATCHDOG")) == pings_before
        beat = json.loads((tmp_path / "heartbeat.json").read_text())
        assert beat["live"] is False
        assert beat["reason"].startswith("scheduler stalled")

        daemon.scheduler.completes()
        await sock.wait_for("WATCHDOG", "1", count=pings_before + 2)
        assert [e for e in logs if e["event"] == "scheduler.resumed"]

        await supervision.stopping()
        assert sock.with_key("STOPPING") == [
            {"STOPPING": "1", "STATUS": "stopping: draining probes, saving the state"}
        ]
        assert not (tmp_path / "heartbeat.json").exists()
        await supervision.close()
    stalled = next(e for e in logs if e["event"] == "scheduler.stalled")
    assert stalled["stall_after_s"] == 0.5
    assert stalled["overdue_s"] == 30.0


async def test_no_watchdog_ping_is_sent_before_the_daemon_is_ready() -> None:
    with notify_socket() as sock:
        env = {"NOTIFY_SOCKET": sock.address, "WATCHDOG_USEC": "20000"}
        supervision = Supervision(StandInDaemon(env), env)
        await asyncio.sleep(0.1)
        assert sock.with_key("WATCHDOG") == []
        assert not supervision.liveness().live
        await supervision.close()


async def test_a_reload_is_announced_with_the_monotonic_clock_then_ready_again() -> None:
    with notify_socket() as sock:
        supervision = Supervision(StandInDaemon({}), {"NOTIFY_SOCKET": sock.address})
        before = asyncio.get_running_loop().time()
        supervision.reloading()
        supervision.reloaded()
        after = asyncio.get_running_loop().time()
        reloading, ready = sock.with_key("RELOADING")[0], sock.with_key("READY")[0]
        # asyncio's loop clock is CLOCK_MONOTONIC on Linux: the same clock systemd reads.
        assert before * 1e6 <= int(reloading["MONOTONIC_USEC"]) <= after * 1e6
        assert ready["STATUS"].startswith("3/4 providers up")
        await supervision.close()


def test_the_status_line_names_down_providers_and_a_few_empty_pools() -> None:
    counts = {
        "providers": 10,
        "up": 6,
        "down": 3,
        "pending": 1,
        "held": 2,
        "empty_pools": ["a", "b", "c", "d", "e"],
    }
    supervision = Supervision(StandInDaemon({}, counts), {})
    assert supervision.status_line() == (
        "6/10 providers up, 3 down, 1 pending, 2 held (network suspect); "
        "empty pools: a, b, c and 2 more"
    )


async def test_a_heartbeat_that_cannot_be_written_is_reported_once(tmp_path: Path) -> None:
    env = {"STATE_DIRECTORY": str(tmp_path / "missing")}
    with capture_logs() as logs:
        daemon = StandInDaemon(env)
        supervision = Supervision(daemon, daemon.environ)
        daemon.scheduler.completes()
        supervision.started()
        await eventually(lambda: any(e["event"] == "heartbeat.write_failed" for e in logs))
        await asyncio.sleep(0.4)  # several more heartbeats (every stall_after/4 = 0.125 s)
        await supervision.stopping()
        await supervision.close()
    failures = [e for e in logs if e["event"] == "heartbeat.write_failed"]
    assert len(failures) == 1
    assert failures[0]["path"] == str(tmp_path / "missing" / "heartbeat.json")
