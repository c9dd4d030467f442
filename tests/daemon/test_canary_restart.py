"""The canary's daily budget survives a restart of the daemon (a real SQLite store, the
simulator over 127.0.0.1): a new daemon carries on from the stored spend, a spent budget stays
spent, and each canary's worst case is in the store before the provider sees the request."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from daemon_support import Running
from structlog.testing import capture_logs

from modelmesh_healthd import read_state
from modelmesh_healthd.config import load_config
from modelmesh_healthd.daemon.canary import canary_plans
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.simulator import SimProvider, Simulator
from modelmesh_healthd.state.spend import spend_today

KEY = "sk-test-canary-0001"
WORST = (64 * 1.0 + 16 * 4.0) / 1e6  # gpt-4o's whole allowance billed, at the price below
REAL = (14 * 1.0 + 1 * 4.0) / 1e6  # what the simulator's answer costs
BUDGET = 0.0003  # room for exactly 10 canaries: 10 * REAL + WORST > BUDGET >= 9 * REAL + WORST


def noon_clock() -> Callable[[], float]:
    """Wall time that starts at noon UTC of today and runs at the real pace (no midnight)."""
    start, base = time.monotonic(), (time.time() // 86_400) * 86_400 + 43_200
    return lambda: base + (time.monotonic() - start)


def config_text(base_url: str, store: str, every: float) -> str:
    return f"""
daemon:
  instance: canary
  drain_timeout: 2s
  summary_interval: 0
  network_guard: {{enabled: false}}
schedule: {{interval: 5s, timeout: 2s, jitter: 0}}
http: {{trust_env: false}}
storage: {{url: "{store}", sync_policy: periodic, sync_interval: 60s}}
admin: {{enabled: false}}
providers:
  a:
    kind: openai
    base_url: "{base_url}/a/v1"
    api_key: {KEY}
    canary: {{every: {every}s, budget_usd_per_day: {BUDGET}, stream: false}}
models:
  a.gpt-4o:
    provider: a
    name: gpt-4o
    canary: true
    price: {{input_usd_per_mtok: 1.0, output_usd_per_mtok: 4.0}}
pools:
  chat: {{models: [a.gpt-4o]}}
"""


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(
        [SimProvider(name="a", kind="openai", api_key=KEY, models=("gpt-4o",))]
    ) as s:
        yield s


@asynccontextmanager
async def daemon_on(
    tmp_path: Path,
    sim: Simulator,
    clock: Callable[[], float],
    every: float = 0.1,
    *,
    fresh: bool = False,
) -> AsyncIterator[Running]:
    path = tmp_path / "healthd.yaml"
    path.write_text(config_text(sim.base_url, f"sqlite:///{tmp_path}/state.db", every))
    with capture_logs() as logs:
        run = Running(
            Daemon(load_config(path, environ={}), environ={}, wall_clock=clock, fresh=fresh),
            logs,
            sim,
        )
        try:
            yield run
        finally:
            if not run.task.done():
                await run.stop()


def completed(run: Running) -> list[dict[str, Any]]:
    return run.events("canary.completed", provider="a")


def metric(run: Running, name: str) -> str:
    body = run.daemon.supervision.metrics.render().decode()
    (line,) = [
        x for x in body.splitlines() if x.startswith(f'modelmesh_healthd_{name}{{provider="a"}}')
    ]
    return line.rsplit(" ", 1)[1]


async def test_a_restarted_daemon_carries_on_from_the_stored_spend_and_a_spent_budget_stays_spent(
    tmp_path: Path, sim: Simulator
) -> None:
    clock = noon_clock()
    store = f"sqlite:///{tmp_path}/state.db"
    async with daemon_on(tmp_path, sim, clock) as first:
        await first.wait_until(lambda: len(completed(first)) >= 3, what="3 canaries")
        await first.stop()
    sent_first = len(completed(first))
    stored = await read_state(store)
    assert stored is not None
    assert spend_today(stored.providers["a"], clock()).usd == pytest.approx(sent_first * REAL)

    async with daemon_on(tmp_path, sim, clock) as second:
        await second.wait_for("daemon.started")
        # The spend is there from the start, before the second daemon sent anything.
        assert float(metric(second, "canary_spent_usd")) == pytest.approx(sent_first * REAL)
        await second.wait_for("canary.budget_exhausted", provider="a")
        await second.stop()
    # Together they sent what one daemon could in a day: the restart gave no new budget.
    assert sent_first + len(completed(second)) == 10
    assert sent_first * REAL + len(completed(second)) * REAL <= BUDGET

    async with daemon_on(tmp_path, sim, clock) as third:
        await third.wait_for("daemon.started")
        assert metric(third, "canary_budget_exhausted") == "1.0"
        said = await third.wait_for("canary.budget_exhausted", provider="a")
        assert said["skipped"] == ["a.gpt-4o"]
        assert completed(third) == []
        await third.stop()
    assert completed(third) == []


async def test_a_fresh_start_forgets_health_but_not_the_days_spend(
    tmp_path: Path, sim: Simulator
) -> None:
    clock = noon_clock()
    async with daemon_on(tmp_path, sim, clock) as first:
        await first.wait_until(lambda: len(completed(first)) >= 2, what="2 canaries")
        await first.stop()
    spent = len(completed(first)) * REAL
    async with daemon_on(tmp_path, sim, clock, every=3600.0, fresh=True) as second:
        await second.wait_for("daemon.started")
        assert float(metric(second, "canary_spent_usd")) == pytest.approx(spent)
        await second.stop()


async def test_the_store_holds_a_canarys_worst_case_when_the_provider_receives_it(
    tmp_path: Path, sim: Simulator
) -> None:
    clock = noon_clock()
    store = f"sqlite:///{tmp_path}/state.db"
    seen: list[float] = []
    async with daemon_on(tmp_path, sim, clock, every=3600.0) as run:
        await run.wait_for("daemon.started")
        inner = httpx.AsyncHTTPTransport()

        async def watch(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/chat/completions"):
                # Another reader of the store, at the moment the request reaches the provider.
                state = await read_state(store)
                assert state is not None
                seen.append(spend_today(state.providers["a"], clock()).usd)
            return await inner.handle_async_request(request)

        own = run.daemon.client
        async with inner, httpx.AsyncClient(transport=httpx.MockTransport(watch)) as client:
            run.daemon.client = client
            try:
                plan_result = await run.daemon.canary.round(
                    "a", canary_plans(run.daemon.config)["a"]
                )
            finally:
                run.daemon.client = own  # the daemon closes its own at stop
        assert plan_result is not None
        assert len(plan_result.models) == 1
    assert seen == [pytest.approx(WORST)]
