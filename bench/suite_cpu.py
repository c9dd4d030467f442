"""Where the test suite's CPU goes: each test's CPU (its own and its children's), per module.

Runs pytest serially on the given arguments with a plugin that reads the CPU time (user +
system, of this process and of every child it waited for) around each test's whole protocol
(set-up, call, tear-down), then prints the CPU and wall time per module. CPU, unlike wall time,
hardly depends on what else the machine runs, so two runs can be compared under load.

    .venv/bin/python bench/suite_cpu.py tests/cli tests/daemon/test_check_command.py
    .venv/bin/python bench/suite_cpu.py --json after.json tests/cli
    .venv/bin/python bench/suite_cpu.py --compare before.json after.json
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Generator
from pathlib import Path

import pytest

Row = tuple[str, float, float]  # node id, CPU seconds, wall seconds


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class CpuPerTest:
    """The pytest plugin: one row per test."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None]:
        cpu, wall = _cpu(), time.monotonic()
        yield
        self.rows.append((item.nodeid, _cpu() - cpu, time.monotonic() - wall))


def per_module(rows: list[Row]) -> dict[str, tuple[float, float, int]]:
    """Module -> (CPU, wall, tests)."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for nodeid, cpu, wall in rows:
        entry = sums[nodeid.split("::", 1)[0]]
        entry[0] += cpu
        entry[1] += wall
        entry[2] += 1
    return {name: (cpu, wall, int(n)) for name, (cpu, wall, n) in sums.items()}


def _table(before: list[Row] | None, after: list[Row]) -> str:
    now = per_module(after)
    then = per_module(before) if before is not None else {}
    lines = []
    for name in sorted(now.keys() | then.keys(), key=lambda m: -now.get(m, then.get(m))[0]):
        cpu, wall, n = now.get(name, (0.0, 0.0, 0))
        earlier = f"{then[name][0]:7.1f} ({then[name][2]:3d}) -> " if name in then else ""
        lines.append(f"{earlier}{cpu:7.1f} s CPU {wall:7.1f} s wall {n:4d} tests  {name}")
    total = sum(c for _, c, _ in after)
    earlier = f"{sum(c for _, c, _ in before):7.1f} -> " if before is not None else ""
    lines.append(f"{earlier}{total:7.1f} s CPU in all, {len(after)} tests")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args, pytest_args = parser.parse_known_args()
    if args.compare:
        before, after = (json.loads(p.read_text()) for p in args.compare)
        print(_table(before, after))
        return 0
    plugin = CpuPerTest()
    code = pytest.main(["-q", "-p", "no:xdist", *pytest_args], plugins=[plugin])
    if args.json:
        args.json.write_text(json.dumps(plugin.rows))
    print(_table(None, plugin.rows))
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
