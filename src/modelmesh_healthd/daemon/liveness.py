"""Is the daemon making progress? One judgement for the watchdog, `/livez`, and `health`.

Progress means the scheduler is doing its job: no provider has waited past its due time for
longer than `daemon.stall_after`, or probes keep completing (a saturated concurrency bound makes
probes late without anything being stuck). A blocked event loop shows as no answer at all: the
watchdog pings, `/livez` and the heartbeat file are all served by that loop.

The heartbeat file carries the same judgement to `modelmesh-healthd health` when the admin
endpoint is disabled: the daemon rewrites it every few seconds and removes it at stop.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "HEARTBEAT_FILE",
    "Liveness",
    "heartbeat_path",
    "judge",
    "read_heartbeat",
    "write_heartbeat",
]

HEARTBEAT_FILE = "heartbeat.json"


@dataclass(frozen=True, slots=True)
class Liveness:
    """The verdict on the scheduler's progress.

    Attributes:
        live: True while the scheduler makes progress.
        reason: One line saying why (shown by `/livez`, `health` and the stall log event).
        overdue_s: How late the most overdue waiting provider is.
        since_completion_s: Seconds since the last probe completed (None: none yet).
    """

    live: bool
    reason: str
    overdue_s: float = 0.0
    since_completion_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = asdict(self)
        out["overdue_s"] = round(self.overdue_s, 3)
        if self.since_completion_s is not None:
            out["since_completion_s"] = round(self.since_completion_s, 3)
        return out


def judge(*, overdue: float, since_completion: float | None, stall_after: float) -> Liveness:
    """Whether the scheduler makes progress.

    Args:
        overdue: Seconds the most overdue idle provider has been waiting past its due time.
        since_completion: Seconds since a probe last completed (None: none completed yet).
        stall_after: The bound: longer than this without either is a stall.

    Returns:
        The verdict.
    """
    if overdue <= stall_after:
        return Liveness(True, "probes on schedule", overdue, since_completion)
    if since_completion is not None and since_completion <= stall_after:
        return Liveness(True, "probes late but completing", overdue, since_completion)
    if since_completion is None:
        last = "none completed yet"
    else:
        last = f"none completed for {since_completion:.1f}s"
    return Liveness(
        False,
        f"scheduler stalled: a probe is {overdue:.1f}s overdue and {last}",
        overdue,
        since_completion,
    )


def heartbeat_path(environ: Mapping[str, str]) -> Path | None:
    """Where the daemon keeps its heartbeat file, and where `health` looks for it.

    Args:
        environ: The process environment: systemd's `RUNTIME_DIRECTORY` (a tmpfs) is preferred,
            then `STATE_DIRECTORY` (set by systemd's `StateDirectory=` and by the container
            image). Of a `:`-separated list the first directory is used.

    Returns:
        `<directory>/heartbeat.json`, or None when neither variable is set.
    """
    for var in ("RUNTIME_DIRECTORY", "STATE_DIRECTORY"):
        directory = environ.get(var, "").split(":")[0]
        if directory:
            return Path(directory) / HEARTBEAT_FILE
    return None


def write_heartbeat(path: Path, record: Mapping[str, Any]) -> None:
    """Replace the heartbeat file atomically (blocking: run it off the event loop).

    Args:
        path: The file.
        record: `written_at` (Unix time), `stale_after` (seconds), `live`, `reason`, `pid`, ...
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dict(record)), encoding="utf-8")
    os.replace(tmp, path)


def read_heartbeat(path: Path, now: float) -> tuple[bool, str]:
    """Judge a daemon by its heartbeat file.

    Args:
        path: The file.
        now: The current Unix time.

    Returns:
        (healthy, one line saying why).
    """
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        written_at = float(record["written_at"])
        stale_after = float(record["stale_after"])
        live = record["live"] is True
        reason = str(record.get("reason", ""))
    except FileNotFoundError:
        return False, f"no heartbeat file at {path}: the daemon is not running"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"unreadable heartbeat file {path}: {type(exc).__name__}: {exc}"
    age = now - written_at
    if age > stale_after:
        return False, f"heartbeat {age:.0f}s old (over {stale_after:g}s): daemon stopped or hung"
    return live, reason
