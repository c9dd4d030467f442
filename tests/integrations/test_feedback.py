"""Feedback: real modelmesh-lite requests to the simulator become reports with outcome, latency,
tokens and cost."""

from __future__ import annotations

import asyncio
from typing import Any

import modelmesh
import pytest
from mm_support import POOL, ask_async, sim_providers
from modelmesh.connectors.providers.groq_provider import GroqProvider, GroqProviderConfig
from modelmesh.connectors.providers.openai_provider import OpenAIProvider, OpenAIProviderConfig
from modelmesh.interfaces.provider import ModelInfo, ModelPricing

from modelmesh_healthd.integrations.modelmesh import Feedback, outcome_of_error
from modelmesh_healthd.simulator import Simulator

CHAT = "generation.text-generation.chat-completion"


def priced_client(sim: Simulator) -> Any:
    pricing = ModelPricing(input_per_1k_tokens=0.5, output_per_1k_tokens=1.5, per_request=0.001)
    alpha = OpenAIProvider(
        OpenAIProviderConfig(
            base_url=f"{sim.base_url}/alpha",
            api_key="sk-sim-alpha",
            max_retries=0,
            models=[ModelInfo(id="gpt-4o-mini", name="gpt-4o-mini", pricing=pricing)],
        )
    )
    beta = GroqProvider(
        GroqProviderConfig(base_url=f"{sim.base_url}/beta", api_key="sk-sim-beta", max_retries=0)
    )
    return modelmesh.create(
        config={
            "providers": {
                "openai.llm.v1": {"connector": "openai.llm.v1", "instance": alpha},
                "groq.api.v1": {"connector": "groq.api.v1", "instance": beta},
            },
            "models": {
                "openai.gpt-4o-mini": {"provider": "openai.llm.v1", "capabilities": [CHAT]},
                "groq.llama-3.3-70b": {"provider": "groq.api.v1", "capabilities": [CHAT]},
            },
            "pools": {POOL: {"capability": CHAT}},
        }
    )


async def test_a_successful_request_is_reported_with_latency_tokens_and_cost() -> None:
    async with Simulator(sim_providers()) as sim:
        client = priced_client(sim)
        feedback = Feedback(client.mesh)
        feedback.install()
        response = await asyncio.to_thread(
            client.chat.completions.create,
            model=POOL,
            messages=[{"role": "user", "content": "hi"}],
        )
        (report,) = feedback.drain(10)
    usage = response.usage
    assert (report.model, report.provider, report.outcome) == (
        "openai.gpt-4o-mini",
        "openai.llm.v1",
        "ok",
    )
    assert report.latency is not None
    assert report.latency > 0
    assert report.tokens == usage.total_tokens > 0
    expected = usage.prompt_tokens / 1000 * 0.5 + usage.completion_tokens / 1000 * 1.5 + 0.001
    assert report.cost == pytest.approx(expected)


async def test_a_provider_without_pricing_reports_tokens_and_no_cost() -> None:
    async with Simulator(sim_providers()) as sim:
        client = priced_client(sim)
        sim.set_behaviour("alpha", "server_error")
        feedback = Feedback(client.mesh)
        feedback.install()
        for _ in range(2):  # the first fails on alpha three times; the second goes to beta
            await ask_async(client)
        reports = feedback.drain(10)
    assert [r.outcome for r in reports] == ["server_error"] * 3 + ["ok"]
    assert reports[-1].provider == "groq.api.v1"
    assert reports[-1].tokens > 0
    assert reports[-1].cost is None


async def test_uninstall_leaves_the_mesh_and_its_providers_as_they_were() -> None:
    async with Simulator(sim_providers()) as sim:
        client = priced_client(sim)
        providers = client.mesh.providers
        feedback = Feedback(client.mesh)
        feedback.install()
        feedback.uninstall()
        assert all("report_usage" not in vars(p) for p in providers.values())
        assert await ask_async(client)
        assert feedback.drain(10) == []


def test_a_full_queue_drops_the_oldest_reports_and_counts_them() -> None:
    from mm_support import make_mesh
    from modelmesh.core.event_emitter import EventType

    mesh = make_mesh()
    feedback = Feedback(mesh, max_queue=2)
    feedback.install()
    for _ in range(3):
        mesh.event_emitter.emit(
            EventType.REQUEST_FAILURE, pool_id="chat", model_id="openai.gpt-4o-mini", error="x"
        )
    assert feedback.dropped == 1
    assert len(feedback.drain(10)) == 2


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        ("HTTP Error 500: Internal Server Error", "server_error"),
        ("HTTP Error 502: Bad Gateway", "server_error"),
        ("HTTP Error 503: Service Unavailable", "overloaded"),
        ("HTTP Error 429: Too Many Requests", "rate_limited"),
        ("HTTP Error 401: Unauthorized", "auth_invalid"),
        ("HTTP Error 403: Forbidden", "auth_invalid"),
        ("HTTP Error 402: Payment Required", "quota_exhausted"),
        ("HTTP Error 404: Not Found", "model_not_found"),
        ("HTTP Error 400: Bad Request", "protocol_error"),
        ("<urlopen error [Errno 111] Connection refused>", "connect_error"),
        ("[Errno 104] Connection reset by peer", "connect_error"),
        ("The read operation timed out", "timeout"),
        ("Expecting value: line 1 column 1 (char 0)", "protocol_error"),
        ("Provider not found", "protocol_error"),
    ],
)
def test_modelmesh_error_texts_are_classified_like_probe_outcomes(error: str, outcome: str) -> None:
    assert outcome_of_error(error) == outcome
