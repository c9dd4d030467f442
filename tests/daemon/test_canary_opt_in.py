"""Property: the daemon sends a request that costs tokens only when the canary is on, for every
kind the canary speaks (Azure OpenAI and Ollama included): a `canary:` block on the provider,
`canary: true` on the model, and a price."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelmesh_healthd.config import ConfigError, load_config_text
from modelmesh_healthd.daemon.canary import canary_plans
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.probes.canary import CANARY_KINDS, is_costly
from modelmesh_healthd.simulator import InProcessSimulator
from modelmesh_healthd.state import initial_state

PRICE = "price: {input_usd_per_mtok: 1.0, output_usd_per_mtok: 4.0}"


def config_text(sim: InProcessSimulator, kind: str, block: bool, opted: bool, priced: bool) -> str:
    p = sim.provider(kind)
    model = p.models[0]
    opts = ", ".join(x for x in ("canary: true" if opted else "", PRICE if priced else "") if x)
    canary = "    canary: {every: 15m, budget_usd_per_day: 1.0}\n" if block else ""
    return f"""
providers:
  prov:
    kind: {kind}
    base_url: {sim.url(kind)}
    api_key: {p.api_key or "none"}
{canary}models:
  prov.m: {{provider: prov, name: "{model}", {opts}}}
pools:
  all: {{models: [prov.m]}}
"""


async def costly_requests(kind: str, block: bool, opted: bool, priced: bool) -> list[str]:
    sim = InProcessSimulator()
    config = load_config_text(config_text(sim, kind, block, opted, priced), environ={})
    daemon = Daemon(config, environ={}, store_url="sqlite:///:memory:", wall_clock=lambda: 1.8e9)
    daemon.core.state = initial_state(daemon.mesh)
    inner = sim.transport()
    sent: list[str] = []

    async def record(request: httpx.Request) -> httpx.Response:
        if is_costly(request.method, str(request.url)):
            sent.append(f"{request.method} {request.url.path}")
        return await inner.handle_async_request(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
        daemon.client = client
        for name, plan in canary_plans(config).items():
            await daemon.canary.round(name, plan)
    return sent


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(CANARY_KINDS)),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_a_costly_request_is_sent_exactly_when_the_canary_is_on(
    kind: str, block: bool, opted: bool, priced: bool
) -> None:
    if opted and not priced:
        # Refused at load: a canary needs a price to be budgeted, so no daemon ever runs it.
        with pytest.raises(ConfigError, match="canary: needs a price"):
            asyncio.run(costly_requests(kind, block, opted, priced))
        return
    sent = asyncio.run(costly_requests(kind, block, opted, priced))
    if block and opted:
        assert len(sent) == 1, sent  # one canary for the one model
    else:
        assert sent == []
