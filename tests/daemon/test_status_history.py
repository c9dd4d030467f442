"""`status --history`: availability per window, read from the store by another process."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from daemon_support import running_daemon

from modelmesh_healthd.daemon.history_report import format_window
from modelmesh_healthd.state.history import Availability


async def status(*args: str) -> tuple[int, str]:
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


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        ({"up": 3600}, "100.0%"),
        ({"up": 1800, "down": 1800}, "50.0%"),
        ({"degraded": 900, "up": 900, "maintenance": 1800}, "100.0% (25% degraded, 50% maint)"),
        ({"unknown": 3600}, "-"),
        ({"maintenance": 3600}, "-"),
    ],
)
def test_a_window_is_shown_as_its_ratio_with_degraded_and_maintenance_apart(
    seconds: dict[str, float], shown: str
) -> None:
    assert format_window(Availability(3600.0, seconds)) == shown


async def test_status_history_shows_each_providers_availability(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/state.db"
    async with running_daemon(tmp_path, store_url=store) as run:
        await run.probes_of("b", 1)
        run.sim.set_behaviour("b", "key_revoked")
        await run.wait_for("provider.down", provider="b")
        await run.daemon.manager.sync()  # type: ignore[union-attr]  # set once started
        assert await run.daemon.history.flush()

        code, out = await status("--store", store, "--history", "--json")
        assert code == 0
        history = json.loads(out)["history"]
        assert history["b"]["current"] == "down"
        assert 0.0 < history["b"]["windows"]["24h"]["ratio"] < 1.0
        assert history["a"]["windows"]["1h"]["ratio"] == 1.0

        code, out = await status("--store", store, "--history")
        assert code == 0
        assert "UP 1h" in out
        assert "UP 30d" in out
        row = next(line for line in out.splitlines() if line.startswith("a ") and "%" in line)
        assert "100.0%" in row
