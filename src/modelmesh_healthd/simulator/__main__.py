"""`python -m modelmesh_healthd.simulator [--host H] [--port N] [--scenario FILE]`.

Prints the base URL on the first line, then one line per provider (`name kind base_url`), and
runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import structlog

from modelmesh_healthd.simulator.scenario import Scenario, ScenarioError
from modelmesh_healthd.simulator.server import Simulator


async def _serve(host: str, port: int, scenario: Scenario | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Simulator(host=host, port=port, scenario=scenario) as sim:
        print(sim.base_url, flush=True)
        for name, p in sim.providers.items():
            print(f"{name} {p.kind} {sim.url(name)}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until signalled.

    Returns:
        Exit status: 0 after a signal, 2 for a bad scenario.
    """
    parser = argparse.ArgumentParser(prog="python -m modelmesh_healthd.simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--scenario", help="YAML/JSON timeline of behaviour changes")
    args = parser.parse_args(argv)
    # stdout carries the URLs that a driving process reads; log lines go to stderr.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    try:
        scenario = Scenario.load(args.scenario) if args.scenario else None
        asyncio.run(_serve(args.host, args.port, scenario))
    except ScenarioError as exc:
        print(f"bad scenario: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
