"""What hostile and large configurations cost to load, and whether a reload holds up probing.

Table 1 runs `modelmesh-healthd validate` as a process on each hostile case of the tests
(tests/config/hostile.py) and on large honest files, and reports its exit code, wall time and
peak resident memory (the kernel's account of the child, from wait4).

Table 2 measures how late a 1 ms asyncio ticker gets while a large fleet's file loads: on a
thread of its own (`load_config_in_thread`, what a SIGHUP reload does) and, for comparison, in
the event loop itself. The ticker stands in for the scheduler: its lateness is the lateness
a reload adds to probes.

    .venv/bin/python bench/config_limits.py
    .venv/bin/python bench/config_limits.py --providers 50000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from modelmesh_healthd.config import load_config, load_config_in_thread
from modelmesh_healthd.config.limits import MAX_ALIAS_VALUES

# The hostile cases are the tests' own, so the figures are for exactly what the tests refuse.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "config"))
from hostile import CASES


def fleet(n: int) -> str:
    """A fleet file in the shape of bench/scheduler_scale.py's."""
    lines = ["providers:"]
    lines += [
        f'  p{i}: {{kind: openai, base_url: "http://127.0.0.1:9/p{i}/v1", api_key: sk-{i}}}'
        for i in range(n)
    ]
    lines.append("models:")
    lines += [f"  p{i}.m: {{provider: p{i}}}" for i in range(n)]
    lines.append("pools:")
    lines.append("  all: {providers: [" + ", ".join(f"p{i}" for i in range(n)) + "]}")
    return "\n".join(lines) + "\n"


def at_alias_limit() -> str:
    """Aliases standing for exactly the limit, honest YAML otherwise (an unknown top key)."""
    anchor = "pad: &a [" + ", ".join(["x"] * 999) + "]\n"
    uses = "more: [" + ", ".join(["*a"] * (MAX_ALIAS_VALUES // 1000)) + "]\n"
    return "providers:\n  o: {kind: ollama}\n" + anchor + uses


def run_validate(directory: Path) -> tuple[int, float, float]:
    """(exit code, seconds, peak RSS MiB) of `validate c.yaml` in `directory`."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelmesh_healthd", "validate", "c.yaml"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - start, usage.ru_maxrss / 1024


def table_one(providers: int) -> None:
    honest: list[tuple[str, Callable[[Path], None]]] = [
        ("honest: 10 providers", lambda d: (d / "c.yaml").write_text(fleet(10))),
        (
            f"honest: {providers:,} providers",
            lambda d: (d / "c.yaml").write_text(fleet(providers)),
        ),
        (
            f"honest: aliases at the limit ({MAX_ALIAS_VALUES:,})",
            lambda d: (d / "c.yaml").write_text(at_alias_limit()),
        ),
    ]
    rows = [(c.name, c.build) for c in CASES] + honest
    print(f"{'validate on':<44} {'exit':>4} {'time':>8} {'peak RSS':>10}")
    for name, build in rows:
        with tempfile.TemporaryDirectory() as tmp:
            build(Path(tmp))
            code, seconds, peak = run_validate(Path(tmp))
        print(f"{name:<44} {code:>4} {seconds:>7.2f}s {peak:>6.0f} MiB")


async def lateness_while(load: Callable[[], object], in_thread: bool) -> tuple[float, float]:
    """(max lateness ms, load seconds) of a 1 ms ticker while `load` runs."""
    worst = 0.0
    stop = False

    async def tick() -> None:
        nonlocal worst
        loop = asyncio.get_running_loop()
        while not stop:
            due = loop.time() + 0.001
            await asyncio.sleep(0.001)
            worst = max(worst, loop.time() - due)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.05)
    start = time.perf_counter()
    if in_thread:
        await load()  # type: ignore[misc]  # a coroutine here
    else:
        load()
    seconds = time.perf_counter() - start
    await asyncio.sleep(0.05)
    stop = True
    await ticker
    return worst * 1000, seconds


async def table_two(providers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.yaml"
        path.write_text(fleet(providers))
        print(
            f"\n{'loading ' + format(providers, ',') + ' providers':<44} {'load':>8} "
            f"{'ticker max lateness':>20}"
        )
        for name, in_thread in (
            ("on its own thread (a reload)", True),
            ("in the event loop", False),
        ):
            load: Callable[[], object] = (
                (lambda: load_config_in_thread(path, {}))
                if in_thread
                else (lambda: load_config(path, {}))
            )
            late, seconds = await lateness_while(load, in_thread)
            print(f"{name:<44} {seconds:>7.2f}s {late:>17.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", type=int, default=10_000)
    args = parser.parse_args()
    table_one(args.providers)
    asyncio.run(table_two(args.providers))


if __name__ == "__main__":
    main()
