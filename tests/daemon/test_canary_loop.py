"""The daemon's canary: which providers and models get one, and a round's effect on the state."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from modelmesh_healthd.config import Config, load_config_text
from modelmesh_healthd.daemon.canary import canary_plans
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.simulator import InProcessSimulator
from modelmesh_healthd.state import initial_state

PRICE = "price: {input_usd_per_mtok: 1.0, output_usd_per_mtok: 4.0}"


def config(
    sim: InProcessSimulator, *, block: str, a: str, b: str, kind: str = "anthropic"
) -> Config:
    p = sim.provider(kind)
    first, second = p.models[:2]
    text = f"""
providers:
  prov:
    kind: {kind}
    base_url: {sim.url(kind)}
    api_key: {p.api_key or "none"}
{block}
models:
  prov.a: {{provider: prov, name: {first}, {a}}}
  prov.b: {{provider: prov, name: {second}, {b}}}
pools:
  chat: {{models: [prov.a, prov.b]}}
"""
    return load_config_text(text, environ={})


ON = "    canary: {every: 15m, budget_usd_per_day: 0.10}"


@pytest.fixture
def sim() -> InProcessSimulator:
    return InProcessSimulator()


@pytest.mark.parametrize(
    "case",
    [
        ("", f"canary: true, {PRICE}", f"canary: true, {PRICE}", "anthropic", {}),
        (ON, PRICE, PRICE, "anthropic", {}),
        (ON, f"canary: true, {PRICE}", PRICE, "anthropic", {"prov": ["prov.a"]}),
        (ON, f"canary: true, {PRICE}", f"canary: true, {PRICE}", "cohere", {}),
    ],
    ids=["no canary block", "no model opted in", "one model opted in", "a kind it cannot speak"],
)
def test_only_a_provider_with_a_canary_block_and_priced_opted_in_models_gets_a_canary(
    sim: InProcessSimulator, case: tuple[str, str, str, str, dict[str, list[str]]]
) -> None:
    block, a, b, kind, expected = case
    plans = canary_plans(config(sim, block=block, a=a, b=b, kind=kind))
    assert {n: [m.mesh_id for m in p.models] for n, p in plans.items()} == expected


@pytest.fixture
def block() -> str:
    return ON


@pytest.fixture
async def daemon(sim: InProcessSimulator, block: str) -> AsyncIterator[Daemon]:
    cfg = config(sim, block=block, a=f"canary: true, {PRICE}", b=f"canary: true, {PRICE}")
    d = Daemon(cfg, environ={}, store_url="sqlite:///:memory:", wall_clock=lambda: 1_800_000_000.0)
    d.core.state = initial_state(d.mesh)
    async with httpx.AsyncClient(transport=sim.transport()) as client:
        d.client = client
        yield d


async def test_a_round_adds_its_cost_to_the_totals_and_one_overloaded_model_goes_to_standby(
    sim: InProcessSimulator, daemon: Daemon
) -> None:
    sim.set_behaviour("anthropic", model_states={"claude-3-5-sonnet-20241022": "overloaded"})
    plan = canary_plans(daemon.config)["prov"]
    result = await daemon.canary.round("prov", plan)
    assert result is not None
    ps = daemon.state.providers["prov"]
    assert ps.total_cost == pytest.approx(sum(m.cost_usd for m in result.models))
    assert ps.total_quota_used == sum(m.tokens for m in result.models) > 0
    assert daemon.state.models["prov.a"].deactivation_reason == "model_overloaded"
    assert daemon.state.models["prov.b"].is_active
    assert daemon.state.pools["chat"].active_models == {"prov.b"}


@pytest.mark.parametrize("block", ["    canary: {every: 15m, budget_usd_per_day: 0.001}"])
async def test_a_spent_budget_stops_the_daemons_canary_and_the_metric_says_so(
    sim: InProcessSimulator, daemon: Daemon
) -> None:
    plan = canary_plans(daemon.config)["prov"]
    sent = 0
    for _ in range(200):
        result = await daemon.canary.round("prov", plan)
        assert result is not None
        sent += len(result.models)
        if result.exhausted_now:
            break
    spent = daemon.canary_ledgers["prov"]
    assert spent.exhausted
    assert spent.usd <= 0.001
    assert sim.requests("anthropic") == sent
    body = daemon.supervision.metrics.render().decode()
    assert 'modelmesh_healthd_canary_budget_exhausted{provider="prov"} 1.0' in body


@pytest.mark.parametrize(
    "block", ["    degraded_after: 0s\n    canary: {every: 15m, budget_usd_per_day: 0.10}"]
)
async def test_a_slow_first_token_makes_the_provider_degraded_not_down(daemon: Daemon) -> None:
    plan = canary_plans(daemon.config)["prov"]
    for _ in range(2):
        await daemon.canary.round("prov", plan)
    ps = daemon.state.providers["prov"]
    assert ps.degraded
    assert ps.is_healthy()
    assert ps.latency_samples == 0  # the probes' baseline is not the canary's
    assert daemon.state.models["prov.a"].degraded
    assert daemon.state.models["prov.b"].degraded
    assert daemon.state.pools["chat"].active_models == {"prov.a", "prov.b"}
