"""CPU cost of one probe: our `openai` probe against bare request loops, both transports.

Run: .venv/bin/python bench/probe_cost.py [--n 3000] [--concurrency 1,16] [--models 0]

The provider simulator runs in a separate process, so only the prober's CPU is counted
(`time.process_time()` of this process). Every row asks the same endpoint
(`GET /openai/v1/models`, 127.0.0.1 only) the same number of times:

* floor      - raw asyncio streams: hand-written HTTP/1.1 keep-alive GET, Content-Length body
* bare       - `await client.get(url)` then `response.content`, on a plain client over each
               transport (httpx's own, httpx-aiohttp's, ours: `probes/transport.py`)
* ours       - `await probe(client, target)`: deadline, capped streaming read, classification

The target: ours costs at most 1.3x the bare loop. `vs bare` compares with the bare loop
on the same transport; `vs httpx` with the bare loop on httpx's default transport.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

import httpx
from httpx_aiohttp import AiohttpTransport
from pydantic import SecretStr

from modelmesh_healthd.probes import ClientOptions, ProbeTarget, Transport, build_client, probe
from modelmesh_healthd.probes.transport import ProbeTransport
from modelmesh_healthd.simulator import DEFAULT_KEYS
from modelmesh_healthd.state import Outcome

KEY = DEFAULT_KEYS["openai"] or ""


@dataclass
class Row:
    name: str
    transport: str
    concurrency: int
    cpu_us: float


async def _drive(n: int, concurrency: int, one: Callable[[], Awaitable[None]]) -> float:
    """CPU seconds of `n` calls of `one`, `concurrency` at a time (after a warm-up)."""
    for _ in range(max(50, concurrency * 4)):
        await one()

    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    share = [n // concurrency + (1 if i < n % concurrency else 0) for i in range(concurrency)]
    gc.collect()
    cpu = time.process_time()
    await asyncio.gather(*(worker(c) for c in share))
    return time.process_time() - cpu


async def floor(url: str, n: int, concurrency: int) -> float:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"GET {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {KEY}\r\nAccept: */*\r\n\r\n"
    ).encode()
    pool = [await asyncio.open_connection(host, port) for _ in range(concurrency)]
    free = list(pool)

    async def one() -> None:
        reader, writer = free.pop()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        free.append((reader, writer))

    try:
        return await _drive(n, concurrency, one)
    finally:
        for _, writer in pool:
            writer.close()
            await writer.wait_closed()


def _bare_client(transport: str, concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    if transport == "httptools":
        ours = ProbeTransport(
            ssl_context=ssl.create_default_context(),
            limit=concurrency,
            keepalive=concurrency,
            keepalive_expiry=30.0,
            backstop_timeout=120.0,
        )
        return httpx.AsyncClient(transport=ours, limits=limits)
    if transport == "aiohttp":
        return httpx.AsyncClient(transport=AiohttpTransport(limits=limits), limits=limits)
    return httpx.AsyncClient(limits=limits)


async def bare(url: str, n: int, concurrency: int, transport: str) -> float:
    headers = {"authorization": f"Bearer {KEY}"}
    async with _bare_client(transport, concurrency) as client:

        async def one() -> None:
            r = await client.get(url, headers=headers)
            _ = r.content

        return await _drive(n, concurrency, one)


async def ours(url: str, n: int, concurrency: int, transport: Transport, models: int) -> float:
    names = ("gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "o3-mini")[:models]
    target = ProbeTarget(
        name="openai",
        kind="openai",
        base_url=url.removesuffix("/models"),
        api_key=SecretStr(KEY),
        models=tuple((f"mesh/{m}", m) for m in names),
        timeout=5.0,
    )
    options = ClientOptions(transport=transport, concurrency=concurrency)
    async with build_client(options) as client:
        check = await probe(client, target)
        if check.outcome is not Outcome.OK:
            raise SystemExit(f"probe is not ok against the simulator: {check}")

        async def one() -> None:
            await probe(client, target)

        return await _drive(n, concurrency, one)


def _start_simulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelmesh_healthd.simulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    base = proc.stdout.readline().strip()
    if not base.startswith("http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"simulator did not start: {base!r}")
    return proc, base


async def _measure(url: str, n: int, conc: list[int], repeats: int, models: int) -> list[Row]:
    rows: list[Row] = []
    for c in conc:
        cases: list[tuple[str, str, Callable[[], Awaitable[float]]]] = [
            ("floor (asyncio streams)", "-", partial(floor, url, n, c)),
            ("bare httpx.get", "httpx", partial(bare, url, n, c, "httpx")),
            ("bare httpx.get", "aiohttp", partial(bare, url, n, c, "aiohttp")),
            ("bare httpx.get", "httptools", partial(bare, url, n, c, "httptools")),
            ("ours: probe()", "httpx", partial(ours, url, n, c, "httpx", models)),
            ("ours: probe()", "aiohttp", partial(ours, url, n, c, "aiohttp", models)),
            ("ours: probe()", "httptools", partial(ours, url, n, c, "httptools", models)),
        ]
        samples: dict[int, list[float]] = {i: [] for i in range(len(cases))}
        for _ in range(repeats):  # interleaved, so drift in machine load hits every row alike
            for i, (_, _, run) in enumerate(cases):
                samples[i].append(await run())
        for i, (name, transport, _) in enumerate(cases):
            rows.append(Row(name, transport, c, statistics.median(samples[i]) / n * 1e6))
    return rows


def _table(rows: list[Row]) -> str:
    out = [
        f"{'row':<24} {'transport':<9} {'conc':>4} {'µs CPU/probe':>13} "
        f"{'CPU s/1000':>11} {'vs bare':>8} {'vs httpx':>9}"
    ]
    for r in rows:
        same = next(
            (
                b
                for b in rows
                if b.name.startswith("bare")
                and b.transport == r.transport
                and b.concurrency == r.concurrency
            ),
            None,
        )
        httpx_bare = next(
            b
            for b in rows
            if b.name.startswith("bare")
            and b.transport == "httpx"
            and b.concurrency == r.concurrency
        )
        vs_same = f"{r.cpu_us / same.cpu_us:.2f}x" if same and same is not r else "-"
        vs_httpx = f"{r.cpu_us / httpx_bare.cpu_us:.2f}x" if r is not httpx_bare else "-"
        out.append(
            f"{r.name:<24} {r.transport:<9} {r.concurrency:>4} {r.cpu_us:>13.0f} "
            f"{r.cpu_us / 1000:>11.3f} {vs_same:>8} {vs_httpx:>9}"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="requests per row and repeat")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated levels")
    parser.add_argument("--repeats", type=int, default=3, help="median of this many runs")
    parser.add_argument("--models", type=int, default=0, help="models checked by ours (0-4)")
    args = parser.parse_args()
    conc = [int(c) for c in args.concurrency.split(",")]
    proc, base = _start_simulator()
    try:
        url = f"{base}/openai/v1/models"
        started = time.perf_counter()
        rows = asyncio.run(_measure(url, args.n, conc, args.repeats, args.models))
        wall = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"GET {url}  n={args.n} x {args.repeats} (median)  models checked by ours: {args.models}")
    print(_table(rows))
    print(f"({wall:.0f} s wall)")


if __name__ == "__main__":
    main()
