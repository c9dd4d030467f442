"""What a `modelmesh-healthd` command costs before it does its work: CPU per process.

Each row runs one command as a fresh process N times (after one run not counted) and reports
the median user+system CPU of the child (the kernel's account, from getrusage(RUSAGE_CHILDREN)),
the fastest run, and the median wall time. The first row is the interpreter alone, the floor
every command pays. On a machine shared with other work CPU time varies by 10-20 %; the
instructions a command executes do not: `--instructions` counts them too, once per row, under
valgrind's callgrind with a fixed hash seed (about 50 times slower).

`status` reads a SQLite store that a one-second `demo` writes in a temporary directory first;
`check --demo` probes the built-in simulator on 127.0.0.1, so its row includes one probe round.

The package measured is the one this interpreter imports, so the same file measures any
checkout:

    .venv/bin/python bench/startup.py
    PYTHONPATH=src .venv/bin/python bench/startup.py --runs 21 --instructions
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import modelmesh_healthd

SRC = Path(modelmesh_healthd.__file__).resolve().parents[1]
CONFIG = SRC.parent / "config" / "demo.yaml"

ROWS: list[tuple[str, list[str]]] = [
    ("python -c pass (floor)", ["-c", "pass"]),
    ("-V", ["-m", "modelmesh_healthd", "-V"]),
    ("--help", ["-m", "modelmesh_healthd", "--help"]),
    ("validate --help", ["-m", "modelmesh_healthd", "validate", "--help"]),
    ("bad argument (exit 2)", ["-m", "modelmesh_healthd", "validate", "--no-such-option"]),
    ("validate config/demo.yaml", ["-m", "modelmesh_healthd", "validate", str(CONFIG)]),
    ("validate --show", ["-m", "modelmesh_healthd", "validate", "--show", str(CONFIG)]),
    ("status (SQLite store)", ["-m", "modelmesh_healthd", "status"]),
    ("status --json", ["-m", "modelmesh_healthd", "status", "--json"]),
    ("check --demo", ["-m", "modelmesh_healthd", "check", "--demo"]),
    ("health --heartbeat FILE", ["-m", "modelmesh_healthd", "health", "--heartbeat", "beat"]),
]

NOT_UNDER_VALGRIND = {"check --demo"}
"""Rows whose work depends on time (probes with timeouts): no instruction count for them."""


def environment() -> dict[str, str]:
    """This environment, importing the measured checkout, without a configuration or colour."""
    # Bytecode is written on the first run and read after, as an installed package's is.
    drop = ("MODELMESH_HEALTHD_CONFIG", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH", "")]))
    env["NO_COLOR"] = "1"
    return env


def run_once(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, exit code) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, check=False
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, proc.returncode


def instructions(args: list[str], cwd: Path, env: dict[str, str]) -> int:
    """Instructions one process executes (callgrind), with a fixed hash seed: the same each run."""
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, *args],
        cwd=cwd,
        env={**env, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Collected : (\d+)", proc.stderr)
    assert found, proc.stderr[-2000:]
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="runs per row (default: %(default)s)")
    parser.add_argument("--only", action="append", help="only rows whose name contains this")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count each command's instructions once under valgrind (slow; deterministic)",
    )
    opts = parser.parse_args()
    env = environment()
    rows = [r for r in ROWS if not opts.only or any(o in r[0] for o in opts.only)]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        if any(name.startswith("status") for name, _ in rows):
            seed = ["-m", "modelmesh_healthd", "demo", "--duration", "1", "--log-level", "error"]
            _, _, code = run_once(seed, cwd, env)
            assert code == 0, "the demo that writes the status store failed"
        counting = opts.instructions and shutil.which("valgrind") is not None
        print(f"package: {SRC}   runs per row: {opts.runs}   load: {os.getloadavg()[0]:.1f}")
        print(
            f"{'command':<28} {'exit':>4} {'CPU ms (median)':>16} {'CPU ms (min)':>13} "
            f"{'wall ms':>8}" + (f" {'instructions (M)':>17}" if counting else "")
        )
        for name, args in rows:
            run_once(args, cwd, env)  # not counted: writes the bytecode of a changed module
            runs = [run_once(args, cwd, env) for _ in range(opts.runs)]
            cpu = [c for c, _, _ in runs]
            count = ""
            if counting:
                count = " " * 18 if name in NOT_UNDER_VALGRIND else ""
                if not count:
                    count = f" {instructions(args, cwd, env) / 1e6:>17,.0f}"
            print(
                f"{name:<28} {runs[0][2]:>4} {statistics.median(cpu) * 1000:>16.0f} "
                f"{min(cpu) * 1000:>13.0f} {statistics.median(w for _, w, _ in runs) * 1000:>8.0f}"
                + count,
                flush=True,
            )
        print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
