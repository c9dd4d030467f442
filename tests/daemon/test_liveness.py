"""The progress judgement and the heartbeat file it travels in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelmesh_healthd.daemon.liveness import (
    heartbeat_path,
    judge,
    read_heartbeat,
    write_heartbeat,
)


@pytest.mark.parametrize(
    ("overdue", "since_completion", "live", "words"),
    [
        (0.0, None, True, "on schedule"),  # just started: nothing due yet
        (0.5, 0.1, True, "on schedule"),
        (60.0, 60.0, True, "on schedule"),  # the bound itself is still fine
        (90.0, 2.0, True, "late but completing"),  # saturated, not stuck
        (90.0, 75.0, False, "none completed for 75.0s"),
        (61.0, None, False, "none completed yet"),
    ],
)
def test_progress_is_nothing_overdue_past_the_bound_or_probes_completing(
    overdue: float, since_completion: float | None, live: bool, words: str
) -> None:
    verdict = judge(overdue=overdue, since_completion=since_completion, stall_after=60.0)
    assert verdict.live is live
    assert words in verdict.reason


def test_a_stall_verdict_says_how_late_the_probe_is() -> None:
    verdict = judge(overdue=125.04, since_completion=None, stall_after=60.0)
    assert verdict.reason == "scheduler stalled: a probe is 125.0s overdue and none completed yet"
    assert verdict.to_dict()["overdue_s"] == 125.04


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"STATE_DIRECTORY": "/var/lib/mmh"}, "/var/lib/mmh/heartbeat.json"),
        ({"STATE_DIRECTORY": "/a:/b"}, "/a/heartbeat.json"),
        (
            {"STATE_DIRECTORY": "/var/lib/mmh", "RUNTIME_DIRECTORY": "/run/mmh"},
            "/run/mmh/heartbeat.json",
        ),
    ],
)
def test_the_heartbeat_lives_in_the_runtime_directory_else_the_state_directory(
    environ: dict[str, str], expected: str | None
) -> None:
    path = heartbeat_path(environ)
    assert (None if path is None else str(path)) == expected


def _beat(path: Path, *, written_at: float, live: bool = True, reason: str = "ok") -> None:
    write_heartbeat(
        path, {"written_at": written_at, "stale_after": 10.0, "live": live, "reason": reason}
    )


def test_a_fresh_live_heartbeat_is_healthy(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat.json"
    _beat(path, written_at=1000.0, reason="probes on schedule")
    assert read_heartbeat(path, 1005.0) == (True, "probes on schedule")
    assert [p.name for p in tmp_path.iterdir()] == ["heartbeat.json"]  # no temporary left


def test_a_fresh_heartbeat_of_a_stalled_scheduler_is_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat.json"
    _beat(path, written_at=1000.0, live=False, reason="scheduler stalled: ...")
    assert read_heartbeat(path, 1001.0) == (False, "scheduler stalled: ...")


def test_a_stale_heartbeat_means_a_stopped_or_hung_daemon(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat.json"
    _beat(path, written_at=1000.0)
    healthy, reason = read_heartbeat(path, 1011.0)
    assert not healthy
    assert "11s old" in reason


def test_no_heartbeat_file_means_no_daemon(tmp_path: Path) -> None:
    healthy, reason = read_heartbeat(tmp_path / "heartbeat.json", 0.0)
    assert not healthy
    assert "not running" in reason


@pytest.mark.parametrize("content", ["", "{", json.dumps({"written_at": "x"}), "[]"])
def test_an_unreadable_heartbeat_is_unhealthy(tmp_path: Path, content: str) -> None:
    path = tmp_path / "heartbeat.json"
    path.write_text(content)
    healthy, reason = read_heartbeat(path, 0.0)
    assert not healthy
    assert reason.startswith("unreadable heartbeat file")
