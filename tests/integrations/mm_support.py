"""A ModelMesh router built as a modelmesh-lite 0.1.1 user must, on the simulator, and the daemon.

One ModelMesh-format YAML serves both: ModelMesh reads `providers`/`models`/`pools` and ignores
the daemon's own sections (`schedule`, `health`, `admin`); the daemon reads all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import modelmesh
import yaml
from modelmesh.connectors.providers.groq_provider import GroqProvider, GroqProviderConfig
from modelmesh.connectors.providers.openai_provider import OpenAIProvider, OpenAIProviderConfig

from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.state import Mesh, Observation, Outcome, apply_probe, reconcile
from modelmesh_healthd.storage import StateManager, open_store

A, B = "openai.gpt-4o-mini", "groq.llama-3.3-70b"
CHAT = "generation.text-generation.chat-completion"


def make_mesh() -> Any:
    """Two pools holding both models (a capability pool and an explicit one)."""
    client = modelmesh.create(
        config={
            "providers": {
                "openai.llm.v1": {
                    "connector": "openai.llm.v1",
                    "instance": OpenAIProvider(OpenAIProviderConfig(api_key="k")),
                },
                "groq.api.v1": {
                    "connector": "groq.api.v1",
                    "instance": GroqProvider(GroqProviderConfig(api_key="k")),
                },
            },
            "models": {
                A: {"provider": "openai.llm.v1", "capabilities": [CHAT]},
                B: {"provider": "groq.api.v1", "capabilities": [CHAT]},
            },
            "pools": {
                "chat": {"capability": CHAT, "strategy": "stick-until-failure"},
                "fallback": {"models": [B, A]},
            },
        }
    )
    return client.mesh


def statuses(mesh: Any) -> dict[str, dict[str, str]]:
    return {
        pid: {m.model_id: m.status.value for m in pool.models} for pid, pool in mesh.pools.items()
    }


TOKEN = "reports-token-for-tests"
POOL = "chat-completion"


def sim_providers() -> list[SimProvider]:
    """Two OpenAI-compatible providers; each lists its model under both spellings.

    ModelMesh sends the part of a model key after its first dot (`gpt-4o-mini`); the daemon may
    check the key itself (`openai.gpt-4o-mini`) or that part, depending on how its configuration
    reads ModelMesh's keys: listing both keeps this story about outages only.
    """
    return [
        SimProvider(
            "alpha",
            "openai",
            api_key="sk-sim-alpha",
            models=("gpt-4o-mini", "openai.gpt-4o-mini"),
        ),
        SimProvider(
            "beta",
            "openai",
            api_key="sk-sim-beta",
            models=("llama-3.3-70b", "groq.llama-3.3-70b"),
        ),
    ]


def mesh_yaml(sim: Simulator, *, admin_port: int, fast: bool = True) -> str:
    """The ModelMesh YAML of the story: alpha first in a stick-until-failure pool, beta second."""
    schedule = (
        "schedule: {interval: 1s, fast_interval: 0.25s, down_interval: 0.5s, "
        "down_interval_max: 1s, jitter: 0.0, timeout: 1s}\n"
        if fast
        else ""
    )
    return (
        "# ModelMesh's own format (starter template): providers with connector + config.\n"
        "providers:\n"
        "  openai.llm.v1:\n"
        "    connector: openai.llm.v1\n"
        "    config:\n"
        f"      base_url: {sim.base_url}/alpha\n"
        "      api_key: sk-sim-alpha\n"
        "  groq.api.v1:\n"
        "    connector: groq.api.v1\n"
        "    config:\n"
        f"      base_url: {sim.base_url}/beta\n"
        "      api_key: sk-sim-beta\n"
        "models:\n"
        "  openai.gpt-4o-mini:\n"
        "    provider: openai.llm.v1\n"
        "    capabilities: [generation.text-generation.chat-completion]\n"
        "  groq.llama-3.3-70b:\n"
        "    provider: groq.api.v1\n"
        "    capabilities: [generation.text-generation.chat-completion]\n"
        "pools:\n"
        f"  {POOL}:\n"
        "    capability: generation.text-generation.chat-completion\n"
        "    strategy: stick-until-failure\n"
        "# The daemon's own sections (ModelMesh ignores them).\n"
        f"{schedule}"
        "admin:\n"
        f"  listen: 127.0.0.1:{admin_port}\n"
        f"  token: {TOKEN}\n"
    )


def build_client(path: Path) -> Any:
    """`modelmesh.create(config=...)` from the YAML, providers built from CONNECTOR_REGISTRY.

    In 0.1.1 a provider routes only when given as an `instance`; its connector's options
    (`config:`) go to the connector's config class. No retries inside the connector, so that
    each failed attempt is one request the router sees (as a router that wants fast failover
    configures it).
    """
    from modelmesh.connectors import CONNECTOR_REGISTRY

    raw = yaml.safe_load(path.read_text())
    for name, entry in list(raw["providers"].items()):
        cls = CONNECTOR_REGISTRY[entry["connector"]]
        config_cls = getattr(importlib.import_module(cls.__module__), cls.__name__ + "Config")
        options = {**entry.get("config", {}), "max_retries": 0, "timeout": 2.0}
        raw["providers"][name] = {
            "connector": entry["connector"],
            "instance": cls(config_cls(**options)),
        }
    return modelmesh.create(config=raw)


def ask(client: Any) -> bool:
    """One user request through the router; True if it was answered."""
    try:
        client.chat.completions.create(model=POOL, messages=[{"role": "user", "content": "hi"}])
    except Exception:  # noqa: BLE001 - the router's failure is what the caller counts
        return False
    return True


async def ask_async(client: Any) -> bool:
    """`ask` without blocking the loop (the simulator runs on it)."""
    return await asyncio.to_thread(ask, client)


async def until(check: Callable[[], bool], within: float, what: str) -> None:
    """Wait until `check()` holds, or fail saying `what`."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


class Daemon:
    """A `modelmesh-healthd run` process and its JSON log lines."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))

    def seen(self, event: str, **fields: Any) -> bool:
        """Whether the daemon logged `event` with these fields."""
        return any(
            e.get("event") == event and all(e.get(k) == v for k, v in fields.items())
            for e in self.events
        )

    async def wait_for(self, event: str, within: float = 20.0, **fields: Any) -> None:
        """Wait for a log line."""
        await until(lambda: self.seen(event, **fields), within, f"{event} {fields}")


@contextlib.asynccontextmanager
async def daemon_process(config: Path, store: str) -> AsyncIterator[Daemon]:
    """Run the daemon on `config` with its state in `store`."""
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
        "--log-level",
        "debug",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    daemon = Daemon(proc)
    try:
        yield daemon
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        daemon._reader.cancel()


PROVIDER = {A: "openai.llm.v1", B: "groq.api.v1"}


class Writer:
    """Stands in for the daemon: writes verdicts to the store as the daemon does (the mesh of
    `make_mesh`)."""

    def __init__(self, url: str) -> None:
        self.mesh = Mesh.build(
            ["openai.llm.v1", "groq.api.v1"], PROVIDER, {"chat": [A, B], "fallback": [B, A]}
        )
        self.manager = StateManager(open_store(url), policy="immediate", writer_id="test-writer")
        self.state, _ = reconcile(self.mesh, None, time.time())
        self.now = time.time()

    async def start(self) -> None:
        await self.manager.start()
        await self.manager.load()
        self.manager.attach(self.state, self.mesh)
        await self.manager.sync()

    async def probes(self, provider: str, outcome: Outcome, times: int) -> None:
        for _ in range(times):
            self.now += 1.0
            events = apply_probe(self.mesh, self.state, provider, Observation(outcome), self.now)
            self.manager.record(events)
        await self.manager.sync()

    async def down(self, provider: str = "openai.llm.v1") -> None:
        await self.probes(provider, Outcome.CONNECT_ERROR, 4)
        assert not self.state.providers[provider].available

    async def up(self, provider: str = "openai.llm.v1") -> None:
        await self.probes(provider, Outcome.OK, 6)
        assert self.state.providers[provider].available

    async def stop(self) -> None:
        await self.manager.stop()


@asynccontextmanager
async def writer(url: str) -> AsyncIterator[Writer]:
    w = Writer(url)
    await w.start()
    try:
        yield w
    finally:
        await w.stop()
