"""`modelmesh-healthd demo`: the daemon against simulated providers with scripted outages."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from modelmesh_healthd.config import load_config
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.simulator.scenario import Scenario

__all__ = ["DEMO_STORE", "run_demo"]

DEMO_STORE = "sqlite:./state/demo.db"
"""Where the demo keeps its state (relative to the working directory)."""


async def run_demo(config: Path, scenario: Path, duration: float, store_url: str) -> int:
    """Start the simulator playing `scenario`, run the daemon on `config` for `duration` seconds.

    The configuration reaches the simulator through `${MODELMESH_DEMO_URL}`.

    Returns:
        The daemon's exit code.
    """
    script = Scenario.load(scenario)
    async with Simulator(scenario=script) as sim:
        environ = {**os.environ, "MODELMESH_DEMO_URL": sim.base_url}
        daemon = Daemon(load_config(config, environ), store_url=store_url, environ=environ)
        timer = asyncio.get_running_loop().call_later(
            duration, daemon.request_stop, "demo duration elapsed"
        )
        try:
            return await daemon.run()
        finally:
            timer.cancel()
