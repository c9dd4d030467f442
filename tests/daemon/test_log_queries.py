"""The log query docs/operations.md suggests for alerting, run with jq over a real daemon's
output: it selects exactly the error events, and skips lines that are not JSON."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path

from daemon_support import fleet
from ops_support import admin_config, daemon_process

from modelmesh_healthd.simulator import Simulator
from tool_support import tool

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def _documented_filter() -> str:
    found = re.findall(r"jq -cR '([^']*select\(\.level == \"error\"\)[^']*)'", DOC.read_text())
    assert found, "docs/operations.md lost its jq alert query"
    assert len(set(found)) == 1
    return found[0]


async def test_the_documented_jq_query_selects_the_error_events(tmp_path: Path) -> None:
    jq = tool("jq")
    config = tmp_path / "healthd.yaml"
    async with Simulator(fleet()) as sim:
        config.write_text(admin_config(sim.base_url, f"sqlite:///{tmp_path}/state.db"))
        async with daemon_process(config, {}) as daemon:
            await daemon.wait_for("daemon.started")
            sim.set_behaviour("a", "key_revoked")  # a and b make up pool premium
            sim.set_behaviour("b", "key_revoked")
            await daemon.wait_for("pool.empty")
            daemon.signal(signal.SIGTERM)
            assert await daemon.finish() == 0
    lines = [json.dumps(e) for e in daemon.events]
    text = "\n".join([*lines[:3], "Traceback (most recent call last):", *lines[3:]]) + "\n"
    proc = await asyncio.create_subprocess_exec(
        jq,
        "-cR",
        _documented_filter(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(text.encode())
    assert proc.returncode == 0, err.decode()
    selected = [json.loads(line) for line in out.decode().splitlines()]
    assert [e["event"] for e in selected] == ["pool.empty"]
    assert selected[0]["pool"] == "premium"
    assert selected == [e for e in daemon.events if e["level"] == "error"]
