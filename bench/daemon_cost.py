"""CPU per probe of the whole daemon, side by side with Prometheus blackbox_exporter.

Run: .venv/bin/python bench/daemon_cost.py [--providers 300] [--interval 3] [--seconds 30]
     [--repeats 1] [--transport httptools] [--event-loop auto] [--compare aiohttp:asyncio]
     [--profile out.txt]

Needs (Debian): `apt-get install -y nginx-light prometheus-blackbox-exporter`. Without nginx the
provider simulator serves the target instead (in a process of its own); without the exporter its
row is left out. Both only listen on 127.0.0.1 and are stopped at the end.

One target, `GET /v1/models` on 127.0.0.1 (three model ids in an OpenAI list), probed by:

* blackbox_exporter - its `/probe` endpoint (http prober: status 200, the three model ids in
  the body), asked by a scraper loop in this process: every one of N targets every interval,
  staggered, as a Prometheus would. Only the exporter's process CPU counts (/proc/PID/stat).
* daemon immediate / periodic - `modelmesh-healthd run` as a process of its own: N providers of
  kind openai with 3 models each (3 pools), every interval, SQLite store under that sync
  policy. Its process CPU (/proc, all threads) over the window, divided by the probes that
  its `/metrics` counted in the same window (one scrape before, one after).
* probe() alone - `bench/probe_cost.py`'s loop of `probe()` on one client (the default
  transport, the 3 models checked), in this process, back to back at concurrency 1 and 16; and
  once more started at the daemon's rate (`probe() alone, N/s`): the loop sleeps between probes
  there, as the daemon's does, which costs a probe far more CPU than a hot loop (cold caches,
  wake-ups).

`--transport` and `--event-loop` choose the daemon's `http.transport` and `daemon.event_loop`
(the probe() alone rows run on the same transport and loop). `--compare T:L,...` adds, for each
transport T and loop L, a daemon (immediate) row and a `probe() alone, conc. 1` row, so that a
change of either is measured against what it replaces in one run.

Rounds interleave the rows so drift in the machine's load hits each alike; ratios are of the
medians. `--profile FILE` instead samples the immediate-policy daemon with py-spy
(`pip install py-spy`; `--gil`: only the thread holding the GIL, so threads waiting in a queue
or epoll are not counted as busy) over one window, and prints each thread's CPU per probe
(/proc) and the top frames (FILE keeps the stacks).

Targets (issue 15): daemon, immediate, at most 0.35x blackbox_exporter's CPU per probe and at
most 1.5x probe() alone.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

import probe_cost  # bench/ is the script's directory, so on sys.path
from modelmesh_healthd.cli import loop_factory
from modelmesh_healthd.probes import (
    TRANSPORTS,
    ClientOptions,
    ProbeResult,
    ProbeTarget,
    Transport,
    build_client,
    probe,
)

LOOPS = ("auto", "uvloop", "asyncio")
MODELS = ("gpt-4o", "gpt-4o-mini", "text-embedding-3-small")
KEY = probe_cost.KEY
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of a process, by "tid name"."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        out[f"{task.name} {name}"] = (int(fields[11]) + int(fields[12])) / TICK
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_http(url: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1.0) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer within {seconds:.0f} s")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the target ---------------------------------------------------------------------------


def models_body() -> str:
    data = [
        {"id": m, "object": "model", "created": 1715367049, "owned_by": "system"} for m in MODELS
    ]
    return json.dumps({"object": "list", "data": data})


def start_target(workdir: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """nginx if installed, else the simulator: (process, base URL of /v1, what serves it)."""
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        proc = subprocess.Popen(
            [sys.executable, "-m", "modelmesh_healthd.simulator", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        base = proc.stdout.readline().decode().strip()
        if not base.startswith("http://127.0.0.1:"):
            proc.kill()
            raise SystemExit(f"simulator did not start: {base!r}")
        return proc, f"{base}/openai/v1", "provider simulator (python, own process)"
    port = free_port()
    body = models_body().replace("'", "\\'")
    temp = "".join(
        f"{kind}_temp_path {workdir}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"""
daemon off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  {temp}
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    location = /v1/models {{ default_type application/json; return 200 '{body}'; }}
  }}
}}
"""
    )
    proc = subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(workdir), "-e", str(workdir / "nginx-error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/v1/models")
    version = subprocess.run(
        [nginx, "-v"], capture_output=True, text=True, check=False
    ).stderr.strip()
    return proc, f"http://127.0.0.1:{port}/v1", version.removeprefix("nginx version: ")


# --- blackbox_exporter --------------------------------------------------------------------


def blackbox_binary() -> str | None:
    return shutil.which("prometheus-blackbox-exporter") or shutil.which("blackbox_exporter")


async def scrape_loop(url: str, n: int, interval: float, until: float, done: list[float]) -> None:
    """Every one of `n` targets asks `url` every `interval` s (staggered) until `until`."""
    conn = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=conn) as session:

        async def target(i: int) -> None:
            due = time.monotonic() + interval * i / n
            while due < until:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                async with session.get(url) as r:
                    text = await r.text()
                if "\nprobe_success 1" not in text:
                    raise SystemExit(f"blackbox_exporter's probe failed:\n{text[:800]}")
                done.append(time.monotonic())
                due += interval

        await asyncio.gather(*(target(i) for i in range(n)))


def run_blackbox(binary: str, target_url: str, args: argparse.Namespace, workdir: Path) -> float:
    """CPU µs per probe of blackbox_exporter at the daemon's rate."""
    port = free_port()
    config = workdir / "blackbox.yml"
    regexps = ", ".join(f"'\"{m}\"'" for m in MODELS)
    config.write_text(
        f"""modules:
  openai_models:
    prober: http
    timeout: 5s
    http:
      method: GET
      valid_status_codes: [200]
      preferred_ip_protocol: ip4
      headers: {{Authorization: "Bearer {KEY}"}}
      fail_if_body_not_matches_regexp: [{regexps}]
"""
    )
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/metrics")
        probe_url = f"http://127.0.0.1:{port}/probe?module=openai_models&target={target_url}/models"
        done: list[float] = []
        warm = args.interval * 2
        start = time.monotonic()
        marks: dict[str, tuple[float, float]] = {}

        async def drive() -> None:
            loop_task = asyncio.create_task(
                scrape_loop(
                    probe_url, args.providers, args.interval, start + warm + args.seconds + 1, done
                )
            )
            await asyncio.sleep(warm)
            marks["a"] = (time.monotonic(), cpu_seconds(proc.pid))
            await asyncio.sleep(args.seconds)
            marks["b"] = (time.monotonic(), cpu_seconds(proc.pid))
            await loop_task

        asyncio.run(drive())
        (t0, c0), (t1, c1) = marks["a"], marks["b"]
        probes = sum(1 for t in done if t0 <= t < t1)
        return (c1 - c0) / probes * 1e6
    finally:
        stop(proc)


# --- the daemon ---------------------------------------------------------------------------


def daemon_yaml(
    args: argparse.Namespace,
    base: str,
    policy: str,
    admin: int,
    db: Path,
    *,
    variant: tuple[str, str],
) -> str:
    transport, loop = variant
    n = args.providers
    lines = [
        f"daemon: {{summary_interval: 0, event_loop: {loop}, log: {{level: info, format: json}}}}",
        f"schedule: {{interval: {args.interval}s, fast_interval: 1s, timeout: 5s, jitter: 0.1}}",
        f"http: {{trust_env: false, transport: {transport}}}",
        f'storage: {{url: "sqlite:///{db}", sync_policy: {policy}}}',
        f'admin: {{listen: "127.0.0.1:{admin}"}}',
        "providers:",
        *(f'  p{i}: {{kind: openai, base_url: "{base}", api_key: "{KEY}"}}' for i in range(n)),
        "models:",
        *(f"  p{i}.{m}: {{provider: p{i}}}" for i in range(n) for m in MODELS),
        "pools:",
        *(f"  {m}: {{models: [{', '.join(f'p{i}.{m}' for i in range(n))}]}}" for m in MODELS),
    ]
    return "\n".join(lines) + "\n"


def probes_counted(admin: int) -> tuple[float, int]:
    """(sum of probes_total over every provider and outcome, of which not ok)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=10) as r:
        text = r.read().decode()
    total = bad = 0.0
    for family in text_string_to_metric_families(text):
        if family.name == "modelmesh_healthd_probes":
            for s in family.samples:
                if s.name.endswith("_total"):
                    total += s.value
                    bad += s.value if s.labels.get("outcome") != "ok" else 0
    return total, int(bad)


@dataclass
class DaemonRun:
    cpu_us: float
    probes: int
    not_ok: int
    threads: dict[str, float] = field(default_factory=dict)
    """CPU µs per probe of each thread."""


def run_daemon(
    args: argparse.Namespace,
    base: str,
    policy: str,
    workdir: Path,
    *,
    variant: tuple[str, str],
    profile: Path | None = None,
) -> DaemonRun:
    admin = free_port()
    db = workdir / f"state-{policy}-{time.monotonic_ns()}.db"
    config = workdir / f"daemon-{policy}.yaml"
    config.write_text(daemon_yaml(args, base, policy, admin, db, variant=variant))
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelmesh_healthd", "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        wait_http(f"http://127.0.0.1:{admin}/readyz", 60.0)
        time.sleep(args.interval * 2)  # the stagger, the first full save
        spy = None
        if profile is not None:
            spy = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "--pid",
                    str(proc.pid),
                    "--duration",
                    str(int(args.seconds)),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--threads",
                    "--gil",
                    "--output",
                    str(profile),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        p0, bad0 = probes_counted(admin)
        c0, t0 = cpu_seconds(proc.pid), thread_cpu(proc.pid)
        time.sleep(args.seconds)
        c1, t1 = cpu_seconds(proc.pid), thread_cpu(proc.pid)
        p1, bad1 = probes_counted(admin)
        if spy is not None:
            spy.wait(60)
        probes = int(p1 - p0)
        threads = {k: (v - t0.get(k, 0.0)) / probes * 1e6 for k, v in t1.items()}
        return DaemonRun((c1 - c0) / probes * 1e6, probes, bad1 - bad0, threads)
    finally:
        stop(proc)


# --- probe() alone ------------------------------------------------------------------------


def _on_loop(loop: str, coro: Coroutine[Any, Any, float]) -> float:
    """Run `coro` on the event loop the daemon would use for `daemon.event_loop: loop`."""
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(coro)


def run_probe_alone(base: str, n: int, concurrency: int, variant: tuple[str, str]) -> float:
    transport, loop = cast(tuple[Transport, str], variant)
    work = probe_cost.ours(f"{base}/models", n, concurrency, transport, len(MODELS))
    return _on_loop(loop, work) / n * 1e6


async def _paced(base: str, rate: float, n: int, transport: Transport) -> float:
    target = ProbeTarget(
        name="openai",
        kind="openai",
        base_url=base,
        api_key=SecretStr(KEY),
        models=tuple((f"mesh/{m}", m) for m in MODELS),
        timeout=5.0,
    )
    async with build_client(ClientOptions(transport=transport)) as client:
        for _ in range(50):
            await probe(client, target)
        tasks: list[asyncio.Task[ProbeResult]] = []
        cpu, start = time.process_time(), time.monotonic()
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(probe(client, target)))
        await asyncio.gather(*tasks)
        return time.process_time() - cpu


def run_probe_paced(base: str, rate: float, n: int, variant: tuple[str, str]) -> float:
    """probe() started at the daemon's rate: the loop sleeps between probes, as the daemon's."""
    transport, loop = cast(tuple[Transport, str], variant)
    return _on_loop(loop, _paced(base, rate, n, transport)) / n * 1e6


def run_floor(base: str, n: int, loop: str) -> float:
    return _on_loop(loop, probe_cost.floor(f"{base}/models", n, 1)) / n * 1e6


# --- profile ------------------------------------------------------------------------------


def top_frames(path: Path, top: int) -> str:
    """Self and inclusive share of samples per function, from py-spy's raw (collapsed) stacks."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        total += n
        threads[frames[0].split(" ")[0] if frames[0].startswith("thread") else frames[0]] += n
        shown = [
            _short(f)
            for f in frames
            if not f.startswith("thread ") and not f.startswith("process ")
        ]
        if shown:
            own[shown[-1]] += n
        for f in set(shown):
            inclusive[f] += n
    out = [f"{total} samples (active only)", "", f"{'self %':>7}  function"]
    out += [f"{c / total * 100:7.1f}  {f}" for f, c in own.most_common(top)]
    out += ["", f"{'total %':>7}  function"]
    out += [f"{c / total * 100:7.1f}  {f}" for f, c in inclusive.most_common(top)]
    return "\n".join(out)


def _short(frame: str) -> str:
    # "name (path/to/file.py:123)" -> "name (file.py)": lines differ per call site
    name, _, where = frame.partition(" (")
    file = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{name} ({file})"


def _variant(spec: str, loop: str, parser: argparse.ArgumentParser) -> tuple[str, str]:
    transport, _, chosen = spec.partition(":")
    if transport not in TRANSPORTS:
        parser.error(f"--compare: unknown transport {transport!r}; choose from {TRANSPORTS}")
    if chosen and chosen not in LOOPS:
        parser.error(f"--compare: unknown event loop {chosen!r}; choose from {LOOPS}")
    return transport, chosen or loop


# --- the table ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", type=int, default=300)
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between probes")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per row")
    parser.add_argument("--repeats", type=int, default=1, help="rounds (medians are shown)")
    parser.add_argument("--n", type=int, default=3000, help="probes per probe() alone row")
    parser.add_argument("--transport", default=TRANSPORTS[0], choices=TRANSPORTS)
    parser.add_argument("--event-loop", default="auto", choices=LOOPS)
    parser.add_argument(
        "--compare",
        default="",
        help="comma-separated TRANSPORT:LOOP (LOOP defaults to --event-loop) for comparison rows",
    )
    parser.add_argument("--profile", type=Path, help="profile the immediate daemon instead")
    parser.add_argument("--top", type=int, default=25, help="frames shown by --profile")
    args = parser.parse_args()
    args.variant = (args.transport, args.event_loop)
    args.compare = [
        _variant(spec, args.event_loop, parser) for spec in args.compare.split(",") if spec
    ]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        target, base, served_by = start_target(workdir)
        try:
            if args.profile is not None:
                load = os.getloadavg()
                r = run_daemon(
                    args, base, "immediate", workdir, variant=args.variant, profile=args.profile
                )
                print(
                    f"py-spy on the daemon (sync_policy immediate, {'/'.join(args.variant)}), "
                    f"{args.seconds:.0f} s, load {load[0]:.2f}"
                )
                print(f"{r.cpu_us:.0f} µs CPU per probe (under the profiler), {r.probes} probes")
                for thread, us in r.threads.items():
                    print(f"  thread {thread}: {us:.0f} µs per probe")
                print(top_frames(args.profile, args.top))
                return
            measure(args, base, served_by, workdir)
        finally:
            stop(target)


def measure(args: argparse.Namespace, base: str, served_by: str, workdir: Path) -> None:
    blackbox = blackbox_binary()
    main = args.variant
    rows: dict[str, list[float]] = collections.defaultdict(list)
    notes: dict[str, str] = {}
    alone_of: dict[str, str] = {}  # row -> the `probe() alone, conc. 1` row of its transport
    loads: list[float] = []
    cases: list[tuple[str, Callable[[], float]]] = []
    if blackbox is not None:
        cases.append(("blackbox_exporter", lambda: run_blackbox(blackbox, base, args, workdir)))

    def daemon_case(policy: str, variant: tuple[str, str], suffix: str) -> None:
        name = f"daemon, SQLite, {policy}{suffix}"

        def daemon() -> float:
            r = run_daemon(args, base, policy, workdir, variant=variant)
            notes[name] = f"{r.probes} probes, {r.not_ok} not ok"
            return r.cpu_us

        cases.append((name, daemon))
        alone_of[name] = f"probe() alone, conc. 1{suffix}"

    for policy in ("immediate", "periodic"):
        daemon_case(policy, main, "")
    for v in args.compare:
        daemon_case("immediate", v, f" [{', '.join(v)}]")
    alone_rows = set()
    for v in (main, *args.compare):
        name = "probe() alone, conc. 1" + (f" [{', '.join(v)}]" if v is not main else "")
        cases.append((name, functools.partial(run_probe_alone, base, args.n, 1, v)))
        alone_rows.add(name)
    cases.append(("probe() alone, conc. 16", lambda: run_probe_alone(base, args.n, 16, main)))
    rate = args.providers / args.interval
    paced = f"probe() alone, {rate:.0f}/s"
    n_paced = min(args.n, int(rate * 20))
    cases.append((paced, lambda: run_probe_paced(base, rate, n_paced, main)))
    cases.append(("asyncio streams floor", lambda: run_floor(base, args.n, main[1])))
    started = time.perf_counter()
    for _ in range(args.repeats):
        for name, run in cases:
            loads.append(os.getloadavg()[0])
            rows[name].append(run())
    loads.append(os.getloadavg()[0])
    wall = time.perf_counter() - started
    med = {name: statistics.median(v) for name, v in rows.items()}
    bb = med.get("blackbox_exporter")
    print(
        f"{args.providers} providers x {len(MODELS)} models every {args.interval:g} s "
        f"({args.providers / args.interval:.0f} probes/s), {args.seconds:.0f} s windows, "
        f"{args.repeats} round(s); target: {served_by} at {base}/models; "
        f"transport {main[0]}, event loop {main[1]}"
    )
    print(
        f"load average (1 min) over the run: {min(loads):.2f} - {max(loads):.2f}; {wall:.0f} s wall"
    )
    print()
    print(
        f"{'row':<46} {'µs CPU/probe':>12} {'range':>13} {'vs blackbox':>11} {'vs probe()':>10}"
        "  note"
    )
    for name, values in rows.items():
        m = med[name]
        spread = f"{min(values):.0f}-{max(values):.0f}" if len(values) > 1 else "-"
        vs_bb = f"{m / bb:.2f}x" if bb and name != "blackbox_exporter" else "-"
        alone = med[alone_of.get(name, "probe() alone, conc. 1")]
        vs_alone = f"{m / alone:.2f}x" if name not in alone_rows else "-"
        print(
            f"{name:<46} {m:>12.0f} {spread:>13} {vs_bb:>11} {vs_alone:>10}  {notes.get(name, '')}"
        )
    if bb is None:
        print("(blackbox_exporter not installed: apt-get install -y prometheus-blackbox-exporter)")


if __name__ == "__main__":
    main()
