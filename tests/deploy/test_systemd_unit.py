"""deploy/systemd/modelmesh-healthd.service: systemd's own checker accepts it, and it says what
the daemon needs (notify protocol, watchdog, enough time to drain and save)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from modelmesh_healthd.config import DaemonConfig
from tool_support import tool

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "modelmesh-healthd.service"
INSTALLED_BINARY = "/opt/modelmesh-healthd/bin/modelmesh-healthd"


def _directives() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    assert match, value
    return float(match[1]) * (60 if match[2] == "min" else 1)


@pytest.fixture
def systemd_analyze() -> str:
    return tool("systemd-analyze")


@pytest.fixture
def verifiable_unit(tmp_path: Path) -> Path:
    """The unit as shipped, but starting this environment's own executable.

    `systemd-analyze verify` insists that ExecStart exists; the unit names where the docs
    install it (/opt/modelmesh-healthd), which is not here. Only that path is changed.
    """
    binary = Path(sys.executable).with_name("modelmesh-healthd")
    assert binary.exists(), binary
    text = UNIT.read_text()
    assert INSTALLED_BINARY in text
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(INSTALLED_BINARY, str(binary)))
    return copy


def test_systemd_analyze_verify_accepts_the_unit_without_a_remark(
    systemd_analyze: str, verifiable_unit: Path
) -> None:
    result = subprocess.run(
        [systemd_analyze, "verify", str(verifiable_unit)],
        capture_output=True,
        text=True,
        check=False,
        cwd=verifiable_unit.parent,
    )
    assert result.returncode == 0, result.stderr
    # verify exits 0 on unknown keys and unparsable values: its remarks are the failures.
    assert result.stdout + result.stderr == ""


def test_the_unit_exposes_little_to_the_system(systemd_analyze: str, verifiable_unit: Path) -> None:
    result = subprocess.run(
        [systemd_analyze, "security", "--offline=yes", "--threshold=20", str(verifiable_unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    level = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert level is not None, result.stdout + result.stderr
    assert result.returncode == 0, f"exposure {level[1]} is above 2.0"


def test_the_unit_speaks_the_notify_protocol_with_a_watchdog() -> None:
    unit = _directives()
    assert unit["Type"] == ["notify"]  # systemd 252 does not know notify-reload
    assert unit["NotifyAccess"] == ["main"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert _seconds(unit["WatchdogSec"][0]) > 0
    assert unit["Restart"] == ["on-failure"]
    assert unit["ExecStart"][0].startswith(f"{INSTALLED_BINARY} run -c /etc/modelmesh-healthd/")


def test_the_stop_timeout_leaves_room_to_drain_and_save() -> None:
    drain = DaemonConfig().drain_timeout
    final_save = max(drain, 5.0)  # the daemon's bound on the last save at stop
    assert _seconds(_directives()["TimeoutStopSec"][0]) > drain + final_save


def test_the_unit_runs_unprivileged_with_its_own_state_directory() -> None:
    unit = _directives()
    for key, value in {
        "DynamicUser": "yes",
        "StateDirectory": "modelmesh-healthd",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "EnvironmentFile": "-/etc/modelmesh-healthd/env",
    }.items():
        assert unit[key] == [value], key
