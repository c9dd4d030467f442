"""Run the real daemon in-process against the provider simulator, and read its log events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from modelmesh_healthd.config import load_config
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.simulator import SimProvider, Simulator

KEYS = {"a": "sk-test-a-0001", "b": "sk-ant-test-b", "c": "AIza-test-c", "d": "gsk-test-d"}

FLEET = [
    SimProvider(name="a", kind="openai", api_key=KEYS["a"], models=("gpt-4o", "gpt-4o-mini")),
    SimProvider(name="b", kind="anthropic", api_key=KEYS["b"], models=("claude-sonnet",)),
    SimProvider(name="c", kind="gemini", api_key=KEYS["c"], models=("gemini-flash",)),
    SimProvider(name="d", kind="openai", api_key=KEYS["d"], models=("llama-70b",)),
]


def fleet() -> list[SimProvider]:
    """Fresh simulated providers: a (openai, 2 models), b (anthropic), c (gemini), d (openai)."""
    return [
        SimProvider(name=p.name, kind=p.kind, api_key=p.api_key, models=p.models) for p in FLEET
    ]


def config_text(
    base_url: str, store_url: str, *, guard: bool = True, extra_providers: str = ""
) -> str:
    """A configuration of the four providers in three overlapping pools, on a fast schedule."""
    return f"""
daemon:
  instance: test
  drain_timeout: 2s
  summary_interval: 0
  network_guard: {{enabled: {str(guard).lower()}, min_providers: 3}}
schedule:
  interval: 0.3s
  fast_interval: 0.05s
  down_interval: 0.1s
  down_interval_max: 0.4s
  jitter: 0.1
  timeout: 1s
http: {{trust_env: false}}
storage: {{url: "{store_url}", sync_policy: immediate}}
admin: {{enabled: false}}
providers:
  a: {{kind: openai, base_url: "{base_url}/a/v1", api_key: {KEYS["a"]}}}
  b: {{kind: anthropic, base_url: "{base_url}/b", api_key: {KEYS["b"]}}}
  c: {{kind: gemini, base_url: "{base_url}/c", api_key: {KEYS["c"]}}}
  d: {{kind: openai, base_url: "{base_url}/d/v1", api_key: {KEYS["d"]}}}
{extra_providers}
models:
  a.gpt-4o: {{provider: a}}
  a.gpt-4o-mini: {{provider: a}}
  b.claude: {{provider: b, name: claude-sonnet}}
  c.flash: {{provider: c, name: gemini-flash}}
  d.llama: {{provider: d, name: llama-70b}}
pools:
  chat: {{models: [a.gpt-4o, b.claude, c.flash, d.llama]}}
  premium: {{models: [a.gpt-4o, b.claude]}}
  fast: {{models: [a.gpt-4o-mini, d.llama]}}
"""


def _matching(
    logs: list[dict[str, Any]], name: str, fields: dict[str, Any]
) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name and all(e.get(k) == v for k, v in fields.items())]


class Running:
    """A daemon running in a task, with its captured log events."""

    def __init__(self, daemon: Daemon, logs: list[dict[str, Any]], sim: Simulator) -> None:
        self.daemon, self.logs, self.sim = daemon, logs, sim
        self.task: asyncio.Task[int] = asyncio.create_task(daemon.run())

    def events(self, name: str, **fields: Any) -> list[dict[str, Any]]:
        """Captured events called `name` whose fields include `fields`."""
        return _matching(self.logs, name, fields)

    def events_before(
        self, event: dict[str, Any], name: str, **fields: Any
    ) -> list[dict[str, Any]]:
        """Like `events`, only those logged before `event`.

        Probes go on after a transition, so "how many failures took it down" is counted up to
        the transition's event (a probe's completion is logged before what it causes), never
        by what the log holds by the time the test looks.
        """
        logs = list(self.logs)
        return _matching(logs[: logs.index(event)], name, fields)

    async def wait_for(
        self, name: str, within: float = 15.0, *, after: int = 0, **fields: Any
    ) -> dict[str, Any]:
        """The first event `name` with `fields` past the first `after` of them, waiting for it
        up to `within` seconds."""
        return await self.wait_until(lambda: self.events(name, **fields)[after:], within, name)

    async def wait_until(
        self, found: Callable[[], Any], within: float = 15.0, what: str = "condition"
    ) -> Any:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            result = found()
            if result:
                return result[0] if isinstance(result, list) else result
            if self.task.done():
                raise AssertionError(f"daemon exited ({self.task.result()}) before {what}")
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    async def probes_of(self, provider: str, count: int) -> None:
        """Wait until `count` more probes of `provider` completed."""
        start = len(self.events("probe.completed", provider=provider))
        await self.wait_until(
            lambda: len(self.events("probe.completed", provider=provider)) >= start + count,
            what=f"{count} probes of {provider}",
        )

    async def stop(self) -> int:
        self.daemon.request_stop("test")
        return await asyncio.wait_for(self.task, 15.0)


@asynccontextmanager
async def running_daemon(
    tmp_path: Path,
    *,
    store_url: str | None = None,
    guard: bool = True,
    sim: Simulator | None = None,
) -> AsyncIterator[Running]:
    """The simulator (unless given) and a daemon on `config_text`, stopped afterwards."""
    own_sim = sim is None
    simulator = sim or Simulator(fleet())
    if own_sim:
        await simulator.start()
    store = store_url or f"sqlite:///{tmp_path}/state.db"
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "healthd.yaml"
    path.write_text(config_text(simulator.base_url, store, guard=guard))
    try:
        with capture_logs() as logs:
            daemon = Daemon(load_config(path, environ={}), environ={})
            run = Running(daemon, logs, simulator)
            try:
                yield run
            finally:
                if not run.task.done():
                    await run.stop()
    finally:
        if own_sim:
            await simulator.stop()
