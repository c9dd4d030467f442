"""A running daemon (a real process) survives a SIGHUP with each hostile file: it logs
`config.invalid` with the one line, keeps probing on its old configuration, and its memory stays
where it was."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from config_processes import DaemonProcess, daemon_process
from hostile import CASES

from modelmesh_healthd.simulator import SimProvider, Simulator

KEY = "sk-test-reload"
GROWTH_MIB = 30  # what the reloads may leave behind (the margin); a bomb would take gigabytes
PEAK_GROWTH_MIB = 100  # what reading the largest refused file (16 MiB at most) may take meanwhile


def good_config(base_url: str) -> str:
    return f"""
daemon: {{instance: hostile, summary_interval: 0, drain_timeout: 1s}}
schedule: {{interval: 0.1s, fast_interval: 0.05s, timeout: 1s}}
http: {{trust_env: false}}
storage: {{url: "memory://"}}
admin: {{enabled: false}}
providers:
  a: {{kind: openai, base_url: "{base_url}/a/v1", api_key: {KEY}}}
models:
  a.gpt-4o: {{provider: a}}
pools:
  chat: {{models: [a.gpt-4o]}}
"""


def clear(directory: Path) -> None:
    for name in ("c.yaml", "secret"):
        path = directory / name
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink(missing_ok=True)


async def still_probing(sim: Simulator, daemon: DaemonProcess, probes: int = 3) -> None:
    before = sim.requests("a")
    deadline = time.monotonic() + 15
    while sim.requests("a") < before + probes:
        assert daemon.proc.returncode is None, "the daemon exited"
        assert time.monotonic() < deadline, "probing stopped"
        await asyncio.sleep(0.05)


async def test_a_running_daemon_survives_a_reload_with_every_hostile_file(
    tmp_path: Path,
) -> None:
    provider = SimProvider(name="a", kind="openai", api_key=KEY, models=("gpt-4o",))
    async with Simulator([provider]) as sim:
        config = tmp_path / "c.yaml"
        config.write_text(good_config(sim.base_url))
        async with daemon_process(config) as daemon:
            await daemon.next_event("daemon.started")
            await still_probing(sim, daemon, probes=10)  # warm: the memory a daemon settles at
            rss_before, peak_before = daemon.memory_kib()
            for case in CASES:
                clear(tmp_path)
                case.build(tmp_path)
                daemon.proc.send_signal(signal.SIGHUP)
                invalid = await daemon.next_event("config.invalid")
                line = case.line.replace("{dir}", str(tmp_path.resolve()))
                assert invalid["errors"] == [line], case.name
                await still_probing(sim, daemon)
            rss_after, peak_after = daemon.memory_kib()
            assert not daemon.named("daemon.reloaded")
    assert (peak_after - peak_before) / 1024 < PEAK_GROWTH_MIB, (peak_before, peak_after)
    assert (rss_after - rss_before) / 1024 < GROWTH_MIB, (rss_before, rss_after)
