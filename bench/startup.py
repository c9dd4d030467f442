"""What a `modelmesh-healthd` command costs before it does its work: CPU per process.

Each row runs one command as a fresh process N times (after one run not counted) and reports
the median user+system CPU of the child (the kernel's account, from getrusage(RUSAGE_CHILDREN)),
the fastest run, and the median wall time. The first row is the interpreter alone, the floor
every command pays. On a machine shared with other work CPU time varies by 10-20 %; the
instructions a command executes do not: `--instructions` counts them too, once per row, under
valgrind's callgrind with a fixed hash seed (about 50 times slower).

`status` reads a SQLite store that a one-second `demo` writes in a temporary directory first;
`check --demo` probes the built-in simulator on 127.0.0.1, so its row includes one probe round.

The `run` rows start the daemon (`run -c FILE`, 10 providers of the simulator this script runs
in a thread, each test's kind of configuration) and kill it the moment it logs an event:
`daemon.started` (the store opened and loaded, the scheduler running: ready) or the first
`probe.completed`. Its CPU is the killed child's own (`os.wait4`); under valgrind it is
stopped by SIGALRM instead, which callgrind survives long enough to report. The Redis and
PostgreSQL rows need those servers (`--redis`, `--postgres`; rows skipped when unreachable),
each run on a fresh key prefix or schema, as each test gets.

The package measured is the one this interpreter imports, so the same file measures any
checkout:

    .venv/bin/python bench/startup.py
    PYTHONPATH=src .venv/bin/python bench/startup.py --runs 21 --instructions
    PYTHONPATH=src .venv/bin/python bench/startup.py --only run --instructions
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class DaemonRow:
    """One `run` row: which store, whether the admin API listens, and the event that ends it."""

    name: str
    store: str  # "sqlite", "redis", "redis replicas", "postgresql"
    admin: bool
    until: str  # the log event at which the daemon is killed


DAEMON_ROWS = [
    DaemonRow("run SQLite -> ready", "sqlite", False, "daemon.started"),
    DaemonRow("run SQLite -> 1st probe", "sqlite", False, "probe.completed"),
    DaemonRow("run SQLite admin -> ready", "sqlite", True, "daemon.started"),
    DaemonRow("run Redis -> ready", "redis", False, "daemon.started"),
    DaemonRow("run Redis replicas -> probe", "redis replicas", False, "probe.completed"),
    DaemonRow("run PostgreSQL -> ready", "postgresql", False, "daemon.started"),
]

PROVIDERS = 10
KEY = "sk-bench-startup-0001"


def daemon_config(base_url: str, store_url: str, *, admin: bool) -> str:
    """The shape the daemon and replica tests use: a fast schedule, no summary, the guard off."""
    lines = [
        "daemon: {instance: bench, drain_timeout: 1s, summary_interval: 0,",
        "         network_guard: {enabled: false}}",
        "schedule: {interval: 1s, fast_interval: 0.2s, down_interval: 0.3s, jitter: 0,",
        "           timeout: 2s}",
        "http: {trust_env: false}",
        f'storage: {{url: "{store_url}", sync_policy: immediate}}',
        'admin: {listen: "127.0.0.1:0"}' if admin else "admin: {enabled: false}",
        "providers:",
        *(
            f'  p{i:02d}: {{kind: openai, base_url: "{base_url}/p{i:02d}/v1", api_key: {KEY}}}'
            for i in range(PROVIDERS)
        ),
        "models:",
        *(f"  m{i:02d}: {{provider: p{i:02d}, name: gpt-4o}}" for i in range(PROVIDERS)),
        "pools:",
        f"  all: {{models: [{', '.join(f'm{i:02d}' for i in range(PROVIDERS))}]}}",
    ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def simulator() -> Iterator[str]:
    """The simulated providers on 127.0.0.1, served from a thread of this process (whose CPU
    is not the child's): their base URL."""
    import logging

    import structlog

    from modelmesh_healthd.simulator import SimProvider, Simulator

    # The simulator's own lines would interleave with the table.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    fleet = [
        SimProvider(name=f"p{i:02d}", kind="openai", api_key=KEY, models=("gpt-4o",))
        for i in range(PROVIDERS)
    ]
    loop = asyncio.new_event_loop()
    sim = Simulator(fleet)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(sim.start(), loop).result(30)
    try:
        yield sim.base_url
    finally:
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


class Stores:
    """A fresh store URL per run (a key prefix, a schema), each dropped at the end."""

    def __init__(self, cwd: Path, redis_url: str, postgres_url: str) -> None:
        self.cwd, self.redis_url, self.postgres_url = cwd, redis_url, postgres_url
        self.prefixes: list[str] = []
        self.schemas: list[str] = []

    def available(self, store: str) -> bool:
        if store == "sqlite":
            return True
        url = self.redis_url if store.startswith("redis") else self.postgres_url
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        default = 6379 if store.startswith("redis") else 5432
        return reachable(parts.hostname or "127.0.0.1", parts.port or default)

    def fresh(self, store: str) -> str:
        tag = uuid.uuid4().hex[:12]
        if store == "sqlite":
            return f"sqlite:{self.cwd}/{tag}.db"
        if store.startswith("redis"):
            self.prefixes.append(f"bench-{tag}:")
            url = f"{self.redis_url}?prefix=bench-{tag}:"
            return url + "&replicas=on&lease_ttl=5" if store.endswith("replicas") else url
        self.schemas.append(f"bench_{tag}")
        return f"{self.postgres_url}?schema=bench_{tag}"

    def drop(self) -> None:
        if self.prefixes:
            import redis

            client = redis.Redis.from_url(self.redis_url)
            for prefix in self.prefixes:
                keys = list(client.scan_iter(match=f"{prefix}*"))
                if keys:
                    client.delete(*keys)
            client.close()
        if self.schemas:
            import psycopg

            with psycopg.connect(self.postgres_url, autocommit=True) as conn:
                for schema in self.schemas:
                    conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def run_daemon(
    row: DaemonRow, config: Path, cwd: Path, env: dict[str, str], *, valgrind: bool = False
) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, instructions or 0) of one daemon from exec to `row.until`."""
    args = [sys.executable, "-m", "modelmesh_healthd", "run", "-c", str(config)]
    if row.until == "probe.completed":
        args += ["--log-level", "debug"]  # a healthy probe's line is at debug
    if valgrind:
        args = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *args]
        env = {**env, "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        seen = False
        for line in proc.stdout:
            with contextlib.suppress(ValueError):
                if json.loads(line).get("event") == row.until:
                    seen = True
                    break
        # SIGKILL stops it at once; callgrind reports only on a signal the process dies of.
        os.kill(proc.pid, signal.SIGALRM if valgrind else signal.SIGKILL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    assert seen, f"{row.name}: exited {proc.returncode} before {row.until}: {stderr[-2000:]}"
    count = 0
    if valgrind:
        found = re.search(r"Collected : (\d+)", stderr)
        assert found, stderr[-2000:]
        count = int(found.group(1))
    return usage.ru_utime + usage.ru_stime, wall, count


def daemon_rows(
    rows: list[DaemonRow], cwd: Path, env: dict[str, str], opts: argparse.Namespace
) -> None:
    """Print the `run` rows (same columns as the commands')."""
    stores = Stores(cwd, opts.redis, opts.postgres)
    try:
        with simulator() as base_url:
            for row in rows:
                if not stores.available(row.store):
                    print(f"{row.name:<28} skipped: no {row.store} server", flush=True)
                    continue

                def once(valgrind: bool = False, row: DaemonRow = row) -> tuple[float, float, int]:
                    config = cwd / f"{uuid.uuid4().hex[:8]}.yaml"
                    config.write_text(
                        daemon_config(base_url, stores.fresh(row.store), admin=row.admin)
                    )
                    return run_daemon(row, config, cwd, env, valgrind=valgrind)

                once()  # not counted: writes the bytecode of a changed module
                runs = [once() for _ in range(opts.runs)]
                cpu = [c for c, _, _ in runs]
                count = ""
                if opts.counting:
                    count = f" {once(valgrind=True)[2] / 1e6:>17,.0f}"
                print(
                    f"{row.name:<28} {'-':>4} {statistics.median(cpu) * 1000:>16.0f} "
                    f"{min(cpu) * 1000:>13.0f} "
                    f"{statistics.median(w for _, w, _ in runs) * 1000:>8.0f}" + count,
                    flush=True,
                )
    finally:
        stores.drop()


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
    parser.add_argument(
        "--redis", default="redis://127.0.0.1:6379/0", help="server of the Redis rows"
    )
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="server of the PostgreSQL rows",
    )
    opts = parser.parse_args()
    env = environment()
    rows = [r for r in ROWS if not opts.only or any(o in r[0] for o in opts.only)]
    daemons = [r for r in DAEMON_ROWS if not opts.only or any(o in r.name for o in opts.only)]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        if any(name.startswith("status") for name, _ in rows):
            seed = ["-m", "modelmesh_healthd", "demo", "--duration", "1", "--log-level", "error"]
            _, _, code = run_once(seed, cwd, env)
            assert code == 0, "the demo that writes the status store failed"
        counting = opts.instructions and shutil.which("valgrind") is not None
        opts.counting = counting
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
        if daemons:
            daemon_rows(daemons, cwd, env, opts)
        print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
