"""The canary: sizing per family, reading answers, the hard daily budget, and runs against the
simulator's completions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from pydantic import SecretStr

from modelmesh_healthd.probes import ProbeTarget
from modelmesh_healthd.probes.canary import (
    Budget,
    CanaryModel,
    Price,
    Usage,
    allowance_for,
    build_request,
    charge_state,
    is_costly,
    read_answer,
    run_canary,
)
from modelmesh_healthd.probes.kinds import anthropic, azure_openai, gemini, ollama, openai
from modelmesh_healthd.simulator import InProcessSimulator
from modelmesh_healthd.state import ModelState, Outcome, ProviderState

Oc = Outcome
NOW = 1_800_000_000.0
PRICE = Price(1.0, 4.0)
DIALECTS = {
    "openai": openai.DIALECT,
    "anthropic": anthropic.DIALECT,
    "gemini": gemini.DIALECT,
    "azure-openai": azure_openai.DIALECT,
    "ollama": ollama.DIALECT,
}


# --- sizing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "max_output", "reasoning", "effort", "thinking"),
    [
        ("gpt-4o-mini", 16, False, None, None),
        ("claude-3-5-haiku-20241022", 16, False, None, None),
        ("o3-mini", 1024, True, "low", None),
        ("o4-mini", 1024, True, "low", None),
        ("gpt-5-mini", 1024, True, "minimal", None),
        ("o1", 2048, True, None, None),
        ("gemini-2.5-pro", 1024, True, None, 128),
        ("gemini-2.5-flash", 1024, True, None, 0),
        ("gemini-2.0-flash", 16, False, None, None),
        ("deepseek-reasoner", 2048, True, None, None),
        ("deepseek/deepseek-r1", 2048, True, None, None),
    ],
)
def test_each_model_family_gets_an_output_allowance_reasoning_cannot_use_up(
    model: str, max_output: int, reasoning: bool, effort: str | None, thinking: int | None
) -> None:
    a = allowance_for(model)
    assert (a.max_output, a.reasoning, a.openai_effort, a.gemini_thinking) == (
        max_output,
        reasoning,
        effort,
        thinking,
    )


def target(kind: str, base: str = "https://h.example", **kw: object) -> ProbeTarget:
    return ProbeTarget(
        name=kind,
        kind=kind,
        base_url=base,
        api_key=SecretStr("k-1"),
        **kw,  # type: ignore[arg-type]
    )


def test_openai_is_asked_with_max_completion_tokens_and_low_reasoning_effort() -> None:
    req = build_request(target("openai"), "o3-mini", stream=True)
    assert req is not None
    body = json.loads(req.content)
    assert body["max_completion_tokens"] == 1024
    assert body["reasoning_effort"] == "low"
    assert "max_tokens" not in body
    assert body["stream_options"] == {"include_usage": True}
    assert req.url == "https://h.example/chat/completions"


def test_a_compatible_api_is_asked_with_max_tokens() -> None:
    req = build_request(target("groq"), "llama-3.1-8b-instant", stream=False)
    assert req is not None
    body = json.loads(req.content)
    assert (body["max_tokens"], "stream" in body) == (16, False)
    assert req.url == "https://h.example/v1/chat/completions"


def test_gemini_2_5_gets_a_thinking_budget_and_streams_by_sse() -> None:
    req = build_request(target("gemini"), "gemini-2.5-flash", stream=True)
    assert req is not None
    gen = json.loads(req.content)["generationConfig"]
    assert gen == {"maxOutputTokens": 1024, "thinkingConfig": {"thinkingBudget": 0}}
    assert req.url.endswith("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")


def test_azure_is_asked_on_the_deployment_with_the_api_version_and_its_key_header() -> None:
    req = build_request(target("azure-openai"), "gpt-4o", stream=True)
    assert req is not None
    assert req.url == (
        "https://h.example/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    )
    assert req.headers["api-key"] == "k-1"
    body = json.loads(req.content)
    assert "model" not in body  # the deployment in the URL names it
    assert (body["max_tokens"], body["stream_options"]) == (16, {"include_usage": True})


def test_an_azure_reasoning_deployment_gets_max_completion_tokens_and_no_effort() -> None:
    req = build_request(target("azure-openai"), "o3-mini", stream=False)
    assert req is not None
    body = json.loads(req.content)
    assert body["max_completion_tokens"] == 1024
    assert "max_tokens" not in body
    assert "reasoning_effort" not in body  # unknown to api-version 2024-10-21


@pytest.mark.parametrize("stream", [True, False])
def test_ollama_is_asked_on_api_chat_with_num_predict_and_an_explicit_stream_flag(
    stream: bool,
) -> None:
    req = build_request(target("ollama"), "deepseek-r1:7b", stream=stream)
    assert req is not None
    assert req.url == "https://h.example/api/chat"
    body = json.loads(req.content)
    assert body["stream"] is stream  # Ollama streams unless told not to
    assert body["options"] == {"num_predict": 2048}  # a reasoning family's allowance


@pytest.mark.parametrize("kind", ["cohere", "elevenlabs", "http", "tavily"])
def test_a_kind_the_canary_cannot_speak_gets_no_canary(kind: str) -> None:
    assert build_request(target(kind), "m", stream=False) is None


def test_the_worst_case_bills_the_whole_allowance() -> None:
    req = build_request(target("openai"), "o3-mini", stream=False)
    assert req is not None
    usd, tokens = req.worst_case(PRICE)
    assert tokens == 64 + 1024
    assert usd == pytest.approx((64 * 1.0 + 1024 * 4.0) / 1e6)


@pytest.mark.parametrize(
    ("method", "url", "costly"),
    [
        ("POST", "https://h/v1/chat/completions", True),
        ("POST", "https://h/chat/completions", True),
        ("POST", "https://h/v1/messages", True),
        ("POST", "https://h/v1/messages/count_tokens", False),
        ("POST", "https://h/v1beta/models/g:countTokens", False),
        ("POST", "https://h/v1beta/models/g:generateContent", True),
        ("POST", "https://h/v1beta/models/g:streamGenerateContent?alt=sse", True),
        ("GET", "https://h/async/chat/completions", False),
        ("POST", "https://h/api/show", False),
        ("POST", "https://h/api/chat", True),
        ("POST", "https://h/v1/embeddings", True),
        ("GET", "https://h/v1/models", False),
    ],
)
def test_a_request_is_costly_exactly_when_it_generates(method: str, url: str, costly: bool) -> None:
    assert is_costly(method, url) is costly


# --- reading -------------------------------------------------------------------------------


def sse(*events: object) -> bytes:
    return b"".join(
        b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n\n"
        for e in events
    )


def read(status: int, body: bytes, kind: str = "openai", *, stream: bool = False) -> object:
    return read_answer(
        status, {}, [(0.5, body)], kind=kind, dialect=DIALECTS[kind], stream=stream, now=NOW
    )


def test_openai_usage_counts_reasoning_tokens() -> None:
    body = {
        "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 70,
            "completion_tokens_details": {"reasoning_tokens": 64},
        },
    }
    r = read(200, json.dumps(body).encode())
    assert r.outcome is Oc.OK  # type: ignore[attr-defined]
    assert r.usage == Usage(12, 70, 64)  # type: ignore[attr-defined]


def test_gemini_thoughts_bill_as_output() -> None:
    body = {
        "candidates": [{"content": {"parts": [{"text": "ok"}]}}],
        "usageMetadata": {
            "promptTokenCount": 5,
            "candidatesTokenCount": 1,
            "thoughtsTokenCount": 9,
        },
    }
    r = read(200, json.dumps(body).encode(), "gemini")
    assert r.usage == Usage(5, 10, 9)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "stream", "outcome"),
    [
        (
            json.dumps({"error": {"message": "Provider returned error", "code": 502}}),
            False,
            Oc.SERVER_ERROR,
        ),
        (
            json.dumps({"error": {"message": "x", "code": 429, "type": "rate_limit_exceeded"}}),
            False,
            Oc.RATE_LIMITED,
        ),
        (
            sse(
                {"choices": [{"delta": {"content": "o"}}]},
                {"error": {"code": 502}, "choices": [{"finish_reason": "error"}]},
            ),
            True,
            Oc.SERVER_ERROR,
        ),
    ],
)
def test_an_error_inside_an_http_200_body_is_read_as_that_error(
    body: str | bytes, stream: bool, outcome: Outcome
) -> None:
    raw = body if isinstance(body, bytes) else body.encode()
    r = read(200, raw, stream=stream)
    assert r.outcome is outcome  # type: ignore[attr-defined]
    assert "inside an HTTP 200 body" in (r.detail or "")  # type: ignore[attr-defined]


def test_anthropic_error_event_in_a_stream_is_read() -> None:
    body = b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error"}}\n\n'
    assert read(200, body, "anthropic", stream=True).outcome is Oc.SERVER_ERROR  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (400, Oc.PROTOCOL_ERROR),
        (401, Oc.AUTH_INVALID),
        (404, Oc.PROTOCOL_ERROR),
        (529, Oc.OVERLOADED),
    ],
)
def test_a_refused_canary_is_never_provider_fine(status: int, outcome: Outcome) -> None:
    body = json.dumps({"error": {"type": "invalid_request_error", "code": "unsupported_parameter"}})
    r = read(status, body.encode())
    assert r.outcome is outcome  # type: ignore[attr-defined]
    assert r.outcome is not Oc.OK  # type: ignore[attr-defined]


def test_the_first_token_is_timed_at_the_chunk_that_carried_it() -> None:
    chunks = [
        (0.1, sse({"choices": [{"delta": {"role": "assistant", "content": ""}}]})),
        (0.7, sse({"choices": [{"delta": {"content": "ok"}}]})),
        (
            0.9,
            sse({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}, b"[DONE]"),
        ),
    ]
    r = read_answer(200, {}, chunks, kind="openai", dialect=openai.DIALECT, stream=True, now=NOW)
    assert r.first_token_at == 0.7


def test_an_answer_that_is_not_a_completion_is_a_protocol_error() -> None:
    assert read(200, b"<html>hi</html>").outcome is Oc.PROTOCOL_ERROR  # type: ignore[attr-defined]


# --- against the simulator -------------------------------------------------------------------


@pytest.fixture
def sim() -> InProcessSimulator:
    return InProcessSimulator()


@pytest.fixture
async def client(sim: InProcessSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=sim.transport()) as c:
        yield c


def sim_target(sim: InProcessSimulator, kind: str, **kw: object) -> ProbeTarget:
    p = sim.provider(kind)
    key = SecretStr(p.api_key) if p.api_key else None
    return ProbeTarget(name=kind, kind=kind, base_url=sim.url(kind), api_key=key, **kw)  # type: ignore[arg-type]


def models(*names: str) -> tuple[CanaryModel, ...]:
    return tuple(CanaryModel(f"mesh/{n}", n, PRICE) for n in names)


async def canary(
    client: httpx.AsyncClient,
    t: ProbeTarget,
    ms: tuple[CanaryModel, ...],
    *,
    spend: ProviderState | None = None,
    budget: Budget | None = None,
    stream: bool = True,
    now: float = NOW,
    record: Callable[[], Awaitable[bool]] | None = None,
) -> object:
    async def stored() -> bool:
        return True

    return await run_canary(
        client,
        t,
        ms,
        budget=budget or Budget(0.10, 20_000),
        spend=spend if spend is not None else ProviderState(),
        record=record or stored,
        dialect=DIALECTS[t.kind],
        stream=stream,
        now=now,
    )


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-3-5-haiku-20241022"),
        ("gemini", "gemini-2.0-flash"),
        ("azure-openai", "gpt-4o"),
        ("ollama", "llama3.2:latest"),
    ],
)
@pytest.mark.parametrize("stream", [True, False])
async def test_a_canary_gets_a_completion_and_its_cost_from_the_price_table(
    sim: InProcessSimulator, client: httpx.AsyncClient, kind: str, model: str, stream: bool
) -> None:
    r = await canary(client, sim_target(sim, kind), models(model), stream=stream)
    (one,) = r.models  # type: ignore[attr-defined]
    assert one.reading.outcome is Oc.OK
    assert one.reading.text
    assert one.cost_usd == pytest.approx(
        PRICE.cost(one.reading.usage.prompt, one.reading.usage.completion)
    )
    assert r.report.model_outcomes == {f"mesh/{model}": Oc.OK}  # type: ignore[attr-defined]
    assert r.report.latency is not None  # type: ignore[attr-defined]


async def test_a_reasoning_model_answers_within_its_allowance_and_its_reasoning_is_billed(
    sim: InProcessSimulator, client: httpx.AsyncClient
) -> None:
    r = await canary(client, sim_target(sim, "openai"), models("o3-mini"))
    (one,) = r.models  # type: ignore[attr-defined]
    assert one.reading.outcome is Oc.OK
    assert one.reading.text
    assert one.reading.usage.reasoning == 64
    assert one.tokens == one.reading.usage.prompt + one.reading.usage.completion
    assert one.cost_usd == pytest.approx((14 * 1.0 + 65 * 4.0) / 1e6)


async def test_reasoning_that_uses_the_whole_allowance_is_said_not_hidden(
    sim: InProcessSimulator, client: httpx.AsyncClient
) -> None:
    sim.set_behaviour("openai", model_states={"o3-mini": "reasoning_hog"})
    r = await canary(client, sim_target(sim, "openai"), models("o3-mini"))
    (one,) = r.models  # type: ignore[attr-defined]
    assert one.reading.usage.reasoning == 1024
    assert "no visible output (1024 reasoning tokens)" in (one.reading.detail or "")


async def test_budget_spent_stops_the_canary_and_says_so_once_a_day(
    sim: InProcessSimulator, client: httpx.AsyncClient
) -> None:
    ps = ProviderState()
    worst = (64 * 1.0 + 16 * 4.0) / 1e6  # one plain canary's whole allowance billed
    budget = Budget(usd=3 * worst, tokens=20_000)
    t = sim_target(sim, "openai")
    rounds = []
    for i in range(40):  # every 15 minutes, within one UTC day
        r = await canary(
            client,
            t,
            models("gpt-4o", "gpt-4o-mini"),
            spend=ps,
            budget=budget,
            now=NOW + 900 * i,
        )
        rounds.append(r)
        assert ps.canary_usd <= budget.usd
    sent = sum(len(r.models) for r in rounds)  # type: ignore[attr-defined]
    assert sim.requests("openai") == sent
    assert [r.exhausted_now for r in rounds].count(True) == 1  # type: ignore[attr-defined]
    assert rounds[-1].skipped_for_budget == ("mesh/gpt-4o", "mesh/gpt-4o-mini")  # type: ignore[attr-defined]
    assert rounds[-1].models == ()  # type: ignore[attr-defined]
    tomorrow = (NOW // 86_400 + 1) * 86_400
    fresh = await canary(client, t, models("gpt-4o"), spend=ps, budget=budget, now=tomorrow)
    assert len(fresh.models) == 1  # type: ignore[attr-defined]


async def test_a_zero_budget_sends_nothing(
    sim: InProcessSimulator, client: httpx.AsyncClient
) -> None:
    r = await canary(client, sim_target(sim, "openai"), models("gpt-4o"), budget=Budget(0.0, 0))
    assert r.models == ()  # type: ignore[attr-defined]
    assert r.report is None  # type: ignore[attr-defined]
    assert sim.requests("openai") == 0


@pytest.mark.parametrize(
    "case",
    [
        ("openai", "gpt-4o-mini", "error_in_body", Oc.SERVER_ERROR),
        ("anthropic", "claude-3-5-haiku-20241022", "error_in_body", Oc.SERVER_ERROR),
        ("gemini", "gemini-2.0-flash", "error_in_body", Oc.OVERLOADED),
        ("openai", "gpt-4o-mini", "bad_request", Oc.PROTOCOL_ERROR),
        ("azure-openai", "gpt-4o", "error_in_body", Oc.SERVER_ERROR),
        ("ollama", "llama3.2:latest", "error_in_body", Oc.SERVER_ERROR),
        ("ollama", "llama3.2:latest", "bad_request", Oc.PROTOCOL_ERROR),
    ],
)
async def test_a_canary_that_fails_inside_a_200_or_with_a_400_is_never_fine(
    sim: InProcessSimulator, client: httpx.AsyncClient, case: tuple[str, str, str, Outcome]
) -> None:
    kind, model, state, outcome = case
    sim.set_behaviour(kind, model_states={model: state})
    r = await canary(client, sim_target(sim, kind), models(model))
    (one,) = r.models  # type: ignore[attr-defined]
    assert one.reading.outcome is outcome
    fine = r.report.outcome is Oc.OK and r.report.model_outcomes.get(f"mesh/{model}") is Oc.OK  # type: ignore[attr-defined]
    assert not fine


async def test_one_model_overloaded_in_its_canary_is_that_model_alone(
    sim: InProcessSimulator, client: httpx.AsyncClient
) -> None:
    sim.set_behaviour("anthropic", model_states={"claude-3-5-sonnet-20241022": "overloaded"})
    ms = models("claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022")
    r = await canary(client, sim_target(sim, "anthropic"), ms)
    assert r.report.outcome is Oc.OK  # type: ignore[attr-defined]
    assert r.report.model_outcomes == {  # type: ignore[attr-defined]
        "mesh/claude-3-5-sonnet-20241022": Oc.OVERLOADED,
        "mesh/claude-3-5-haiku-20241022": Oc.OK,
    }


async def test_the_time_to_first_token_over_degraded_after_makes_the_report_degraded(
    sim: InProcessSimulator, client: httpx.AsyncClient
) -> None:
    r = await canary(client, sim_target(sim, "openai", degraded_after=0.0), models("gpt-4o"))
    assert r.report.outcome is Oc.DEGRADED  # type: ignore[attr-defined]


async def test_a_rounds_cost_and_tokens_add_to_the_providers_and_models_totals(
    sim: InProcessSimulator, client: httpx.AsyncClient
) -> None:
    r = await canary(client, sim_target(sim, "openai"), models("o3-mini"))
    ps, ms = ProviderState(total_cost=1.0, total_quota_used=10), ModelState()
    charge_state(ps, {"mesh/o3-mini": ms}, r)  # type: ignore[arg-type]
    (one,) = r.models  # type: ignore[attr-defined]
    assert ps.total_cost == pytest.approx(1.0 + one.cost_usd)
    assert ps.total_quota_used == 10 + one.tokens
    assert (ms.cost_accumulated, ms.tokens_used) == (pytest.approx(one.cost_usd), one.tokens)


# --- the spend is stored before anything is sent ---------------------------------------------


async def test_the_rounds_worst_case_is_stored_before_the_first_canary_is_sent(
    sim: InProcessSimulator, client: httpx.AsyncClient
) -> None:
    ps = ProviderState()
    seen: list[tuple[int, float, int]] = []

    async def record() -> bool:
        # What a store would hold now, and what the provider had received by then.
        seen.append((sim.requests("openai"), ps.canary_usd, ps.canary_tokens))
        return True

    r = await canary(
        client, sim_target(sim, "openai"), models("gpt-4o", "o3-mini"), spend=ps, record=record
    )
    worst = ((64 * 1.0 + 16 * 4.0) + (64 * 1.0 + 1024 * 4.0)) / 1e6
    assert seen == [(0, pytest.approx(worst), 64 + 16 + 64 + 1024)]
    assert sim.requests("openai") == 2
    # Settled: the real cost replaced the worst case.
    assert ps.canary_usd == pytest.approx(sum(m.cost_usd for m in r.models))  # type: ignore[attr-defined]
    assert ps.canary_tokens == sum(m.tokens for m in r.models)  # type: ignore[attr-defined]


@pytest.mark.parametrize("failure", ["refused", "raised"])
async def test_a_spend_that_cannot_be_stored_sends_nothing_and_gives_the_reservation_back(
    sim: InProcessSimulator, client: httpx.AsyncClient, failure: str
) -> None:
    ps = ProviderState()

    async def record() -> bool:
        if failure == "raised":
            raise OSError("store down")
        return False

    r = await canary(client, sim_target(sim, "openai"), models("gpt-4o"), spend=ps, record=record)
    assert sim.requests("openai") == 0
    assert r.unrecorded == ("mesh/gpt-4o",)  # type: ignore[attr-defined]
    assert r.models == ()  # type: ignore[attr-defined]
    assert (ps.canary_usd, ps.canary_tokens) == (0.0, 0)


async def test_a_round_with_nothing_to_send_stores_nothing(
    sim: InProcessSimulator, client: httpx.AsyncClient
) -> None:
    calls = 0

    async def record() -> bool:
        nonlocal calls
        calls += 1
        return True

    r = await canary(
        client,
        sim_target(sim, "openai"),
        models("gpt-4o"),
        budget=Budget(0.0, 0),
        record=record,
    )
    assert (calls, r.skipped_for_budget) == (0, ("mesh/gpt-4o",))  # type: ignore[attr-defined]


# --- Azure OpenAI and Ollama, as their documentation shows them ------------------------------


def test_ollama_counts_come_from_the_last_json_line_and_time_the_first_token() -> None:
    lines = [
        (0.2, b'{"model":"m","message":{"role":"assistant","content":"o"},"done":false}\n'),
        (
            0.4,
            b'{"model":"m","message":{"role":"assistant","content":""},"done":true,'
            b'"done_reason":"stop","prompt_eval_count":26,"eval_count":2}\n',
        ),
    ]
    r = read_answer(200, {}, lines, kind="ollama", dialect=ollama.DIALECT, stream=True, now=NOW)
    assert (r.outcome, r.usage, r.first_token_at) == (Oc.OK, Usage(26, 2, 0), 0.2)


def test_azures_first_stream_chunk_without_choices_is_no_token() -> None:
    chunks = [
        (0.1, sse({"choices": [], "prompt_filter_results": [{"prompt_index": 0}]})),
        (0.6, sse({"choices": [{"index": 0, "delta": {"content": "ok"}}]})),
    ]
    r = read_answer(
        200, {}, chunks, kind="azure-openai", dialect=azure_openai.DIALECT, stream=True, now=NOW
    )
    assert (r.outcome, r.first_token_at) == (Oc.OK, 0.6)


@pytest.mark.parametrize("stream", [True, False])
async def test_an_ollama_model_missing_is_that_model_alone(
    sim: InProcessSimulator, client: httpx.AsyncClient, stream: bool
) -> None:
    sim.set_behaviour("ollama", missing_models=frozenset({"nomic-embed-text:latest"}))
    ms = models("llama3.2:latest", "nomic-embed-text:latest")
    r = await canary(client, sim_target(sim, "ollama"), ms, stream=stream)
    assert r.report.model_outcomes == {  # type: ignore[attr-defined]
        "mesh/llama3.2:latest": Oc.OK,
        "mesh/nomic-embed-text:latest": Oc.MODEL_NOT_FOUND,
    }


async def test_an_azure_deployment_missing_is_that_model_alone(
    sim: InProcessSimulator, client: httpx.AsyncClient
) -> None:
    ms = models("gpt-4o", "no-such-deployment")
    r = await canary(client, sim_target(sim, "azure-openai"), ms)
    assert r.report.model_outcomes == {  # type: ignore[attr-defined]
        "mesh/gpt-4o": Oc.OK,
        "mesh/no-such-deployment": Oc.MODEL_NOT_FOUND,
    }


async def test_an_azure_canary_without_the_api_version_is_refused_by_the_simulator(
    sim: InProcessSimulator, client: httpx.AsyncClient
) -> None:
    # The simulator holds Azure to its rule, so the canary's query string is not vacuous.
    url = sim.url("azure-openai") + "/openai/deployments/gpt-4o/chat/completions"
    key = sim.provider("azure-openai").api_key or ""
    answer = await client.post(url, headers={"api-key": key}, json={"messages": []})
    assert answer.status_code == 404


async def test_ollama_thinking_stays_within_num_predict_and_is_billed_as_output(
    sim: InProcessSimulator, client: httpx.AsyncClient
) -> None:
    sim.set_behaviour("ollama", model_states={"llama3.2:latest": "reasoning_hog"})
    r = await canary(client, sim_target(sim, "ollama"), models("llama3.2:latest"))
    (one,) = r.models  # type: ignore[attr-defined]
    assert one.reading.outcome is Oc.OK
    assert one.reading.usage.completion == 16  # the whole cap, and no more
    assert one.cost_usd == pytest.approx((14 * 1.0 + 16 * 4.0) / 1e6)
    assert one.ttft is not None  # Ollama streams its thinking: that is the first token
