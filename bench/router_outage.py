"""A ModelMesh router under steady load through a provider outage, with and without the daemon.

modelmesh-lite 0.1.1 (from PyPI, unchanged) routes chat completions over a stick-until-failure
pool of two simulated providers, alpha first. The load is open-loop: a request starts every
1/rate s whatever the others do. Alpha answers HTTP 500 from `outage_start` to `outage_end`.
The daemon runs as a real process on the same YAML in both runs (its `provider.down` marks the
moment alpha is *known* down); only the second run has `attach` in the router.

    .venv/bin/python bench/router_outage.py                 # 50 req/s, 60 s, outage 20-40 s
    .venv/bin/python bench/router_outage.py --quick         # 20 req/s, 15 s, outage 4-9 s
    .venv/bin/python bench/router_outage.py --store redis://127.0.0.1:6379/0

Columns: failed user requests (the router raised); requests sent to alpha while it was known
down (after the daemon's `provider.down`, before the outage ended); seconds from the end of the
outage to the first request answered by alpha; share of requests after the outage that alpha
served.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from modelmesh_healthd.simulator import SimProvider, Simulator
from modelmesh_healthd.simulator.chat import ChatLog

POOL = "chat-completion"
TOKEN = "bench-reports-token"
SCHEDULE = (
    "schedule: {interval: 2s, fast_interval: 0.5s, down_interval: 1s, down_interval_max: 2s, "
    "jitter: 0.1, timeout: 1s}"
)


class TimedChatLog(ChatLog):
    """The simulator's chat counter, keeping when each request arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, str]] = []

    def count(self, provider: str) -> None:
        super().count(provider)
        self.arrivals.append((time.monotonic(), provider))


@dataclass
class Run:
    label: str
    started: float = 0.0
    failed: int = 0
    total: int = 0
    known_down: float | None = None
    answered_by_alpha: list[float] = field(default_factory=list)
    arrivals: list[tuple[float, str]] = field(default_factory=list)


def providers() -> list[SimProvider]:
    return [
        SimProvider(
            "alpha",
            "openai",
            api_key="sk-alpha",
            models=("gpt-4o-mini", "openai.gpt-4o-mini", "openai.text-embedding-3-small"),
        ),
        SimProvider(
            "beta",
            "openai",
            api_key="sk-beta",
            models=("llama-3.3-70b", "groq.llama-3.3-70b", "groq.whisper-large-v3"),
        ),
    ]


def mesh_yaml(base_url: str, admin_port: int) -> str:
    return f"""
providers:
  openai.llm.v1:
    connector: openai.llm.v1
    config: {{base_url: "{base_url}/alpha", api_key: sk-alpha}}
  groq.api.v1:
    connector: groq.api.v1
    config: {{base_url: "{base_url}/beta", api_key: sk-beta}}
models:
  openai.gpt-4o-mini: {{provider: openai.llm.v1, capabilities: [{CAP}]}}
  groq.llama-3.3-70b: {{provider: groq.api.v1, capabilities: [{CAP}]}}
  openai.text-embedding-3-small:
    {{provider: openai.llm.v1, capabilities: [representation.embeddings.text-embeddings]}}
  groq.whisper-large-v3: {{provider: groq.api.v1, capabilities: [understanding.audio.stt]}}
pools:
  {POOL}: {{capability: {CAP}, strategy: stick-until-failure}}
{SCHEDULE}
daemon: {{summary_interval: 0}}
admin: {{listen: "127.0.0.1:{admin_port}", token: {TOKEN}}}
"""


CAP = "generation.text-generation.chat-completion"


def build_client(path: Path) -> Any:
    """As a modelmesh-lite 0.1.1 user must: instances from CONNECTOR_REGISTRY."""
    import modelmesh
    from modelmesh.connectors import CONNECTOR_REGISTRY

    raw = yaml.safe_load(path.read_text())
    for name, entry in list(raw["providers"].items()):
        cls = CONNECTOR_REGISTRY[entry["connector"]]
        config_cls = getattr(importlib.import_module(cls.__module__), cls.__name__ + "Config")
        options = {**entry["config"], "max_retries": 0, "timeout": 2.0}
        raw["providers"][name] = {
            "connector": entry["connector"],
            "instance": cls(config_cls(**options)),
        }
    return modelmesh.create(config=raw)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def read_daemon(proc: asyncio.subprocess.Process, run: Run) -> None:
    assert proc.stdout is not None
    async for line in proc.stdout:
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if (
                event.get("event") == "provider.down"
                and event.get("provider") == "openai.llm.v1"
                and run.known_down is None
            ):
                run.known_down = time.monotonic()


async def one_request(client: Any, run: Run, sim_chat: TimedChatLog) -> None:
    from modelmesh.interfaces.provider import CompletionRequest

    request = CompletionRequest(model=POOL, messages=[{"role": "user", "content": "hi"}])
    run.total += 1
    try:
        response = await client.mesh.route(request)
    except Exception:  # noqa: BLE001 - a failed user request is what we count
        run.failed += 1
        return
    if str(getattr(response, "model", "")).startswith("gpt-4o-mini"):
        run.answered_by_alpha.append(time.monotonic())


async def one_run(args: argparse.Namespace, attached: bool, workdir: Path) -> Run:
    from modelmesh_healthd.integrations.modelmesh import attach

    run = Run("with the daemon attached" if attached else "modelmesh-lite alone")
    store = args.store or f"sqlite:///{workdir}/{'with' if attached else 'alone'}.db"
    async with Simulator(providers()) as sim:
        chat = TimedChatLog()
        sim.chat = chat
        port = free_port()
        config = workdir / f"modelmesh-{attached}.yaml"
        config.write_text(mesh_yaml(sim.base_url, port))
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "modelmesh_healthd",
            "run",
            "-c",
            str(config),
            "--store",
            store,
            "--log-format",
            "json",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
        )
        reader = asyncio.create_task(read_daemon(proc, run))
        await asyncio.sleep(2.0)  # the daemon's first probes
        client = build_client(config)
        attachment = (
            attach(client, store=store, admin_url=f"http://127.0.0.1:{port}", reports_token=TOKEN)
            if attached
            else None
        )
        tasks: set[asyncio.Task[None]] = set()
        run.started = time.monotonic()
        outage_on = outage_off = False
        n = 0
        while True:
            now = time.monotonic() - run.started
            if now >= args.duration:
                break
            if not outage_on and now >= args.outage_start:
                sim.set_behaviour("alpha", "server_error")
                outage_on = True
            if not outage_off and now >= args.outage_end:
                sim.set_behaviour("alpha", "healthy")
                outage_off = True
            task = asyncio.create_task(one_request(client, run, chat))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
            await asyncio.sleep(max(0.0, run.started + n / args.rate - time.monotonic()))
        await asyncio.gather(*tasks)
        if attachment is not None:
            await attachment.aclose()
        proc.terminate()
        await proc.wait()
        reader.cancel()
        run.arrivals = list(chat.arrivals)
    if args.store:
        await clear_store(args.store)
    return run


async def clear_store(url: str) -> None:
    """A shared store (Redis, PostgreSQL) must not carry the first run's state into the second."""
    if url.startswith("redis"):
        from redis.asyncio import Redis

        client = Redis.from_url(url.split("?", maxsplit=1)[0])
        keys = [k async for k in client.scan_iter("modelmesh-healthd:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def row(run: Run, args: argparse.Namespace) -> list[str]:
    start, end = run.started + args.outage_start, run.started + args.outage_end
    if run.known_down is None:
        to_known_down = "not detected"
    else:
        to_known_down = str(
            sum(1 for t, p in run.arrivals if p == "alpha" and run.known_down <= t < end)
        )
    back = [t for t in run.answered_by_alpha if t >= end]
    returned = f"{back[0] - end:.1f}" if back else "never"
    after = [p for t, p in run.arrivals if t >= end]
    share = f"{100.0 * after.count('alpha') / len(after):.0f} %" if after else "-"
    detected = "-" if run.known_down is None else f"{run.known_down - start:.1f}"
    return [
        run.label,
        f"{run.failed} of {run.total}",
        detected,
        to_known_down,
        returned,
        share,
    ]


def table(rows: list[list[str]]) -> str:
    head = [
        "run",
        "failed user requests",
        "outage known after (s)",
        "sent to alpha while known down",
        "traffic back to alpha after (s)",
        "alpha's share after recovery",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 req/s, 15 s, outage 4-9 s")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--outage-start", type=float, default=20.0)
    parser.add_argument("--outage-end", type=float, default=40.0)
    parser.add_argument("--store", default=None, help="daemon store URL (default: a SQLite file)")
    args = parser.parse_args()
    if args.quick:
        args.rate, args.duration, args.outage_start, args.outage_end = 20.0, 15.0, 4.0, 9.0
    import logging

    import structlog

    logging.disable(logging.WARNING)  # modelmesh-lite logs every failed attempt
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as tmp:
        runs = [await one_run(args, attached, Path(tmp)) for attached in (False, True)]
    print(
        f"{args.rate:g} req/s for {args.duration:g} s, alpha answers HTTP 500 from "
        f"{args.outage_start:g} s to {args.outage_end:g} s; daemon {SCHEDULE}; "
        f"store {args.store or 'sqlite (attach polls every 1 s)'}\n"
    )
    print(table([row(r, args) for r in runs]))


if __name__ == "__main__":
    asyncio.run(main())
