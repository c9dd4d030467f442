"""The deeper zero-cost rungs: what each kind asks per model, and per-model health from them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from modelmesh_healthd.probes import ProbeTarget, plan, probe
from modelmesh_healthd.probes.classifier import Reply
from modelmesh_healthd.probes.engine import RUNG_CONCURRENCY
from modelmesh_healthd.probes.kinds import anthropic, gemini, lmstudio, ollama
from modelmesh_healthd.simulator import InProcessSimulator, Simulator
from modelmesh_healthd.state import (
    DEFAULT_POLICY,
    ConnectivityGuard,
    HealthCore,
    Mesh,
    initial_state,
    observe,
)
from modelmesh_healthd.state.outcome import Outcome

Oc = Outcome
KEY = "k-123"
MakeTarget = Callable[..., ProbeTarget]


def target_for(sim: Simulator | InProcessSimulator, name: str, **overrides: Any) -> ProbeTarget:
    """A target for simulated provider `name`, with its key and its first two models."""
    p = sim.provider(name)
    fields: dict[str, Any] = {
        "name": name,
        "kind": p.kind,
        "base_url": sim.url(name),
        "api_key": SecretStr(p.api_key) if p.api_key else None,
        "models": tuple((f"mesh/{m}", m) for m in p.models[:2]),
        "timeout": 2.0,
    }
    fields.update(overrides)
    return ProbeTarget(**fields)


def target(kind: str, models: tuple[str, ...], **kw: object) -> ProbeTarget:
    pairs = tuple((f"mesh/{m}", m) for m in models)
    return ProbeTarget(
        name="p",
        kind=kind,
        base_url="https://h.example",
        api_key=SecretStr(KEY),
        models=pairs,
        **kw,  # type: ignore[arg-type]
    )


# --- the plans ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "models", "requests"),
    [
        (
            "anthropic",
            ("a", "b"),
            [
                ("GET", "https://h.example/v1/models?limit=1000", None),
                ("POST", "https://h.example/v1/messages/count_tokens", "a"),
                ("POST", "https://h.example/v1/messages/count_tokens", "b"),
            ],
        ),
        (
            "gemini",
            ("models/g",),
            [
                ("GET", "https://h.example/v1beta/models/g", None),
                ("POST", "https://h.example/v1beta/models/g:countTokens", "models/g"),
            ],
        ),
        (
            "ollama",
            ("llama3.2", "qwen"),
            [
                ("GET", "https://h.example/api/ps", None),
                ("POST", "https://h.example/api/show", "llama3.2"),
                ("POST", "https://h.example/api/show", "qwen"),
            ],
        ),
        (
            "localai",
            ("phi-2",),
            [
                ("GET", "https://h.example/readyz", None),
                ("GET", "https://h.example/v1/models", None),
            ],
        ),
        (
            "local",
            ("q",),
            [
                ("GET", "https://h.example/health", None),
                ("GET", "https://h.example/v1/models", None),
            ],
        ),
        (
            "lmstudio",
            ("qwen", "org/llama"),
            [
                ("GET", "https://h.example/v1/models", None),
                ("GET", "https://h.example/api/v0/models/qwen", "qwen"),
                ("GET", "https://h.example/api/v0/models/org%2Fllama", "org/llama"),
            ],
        ),
        ("openai", ("a", "b"), [("GET", "https://h.example/models", None)]),
    ],
)
def test_each_kind_climbs_its_rungs_cheapest_first_and_names_the_model_of_each_deeper_one(
    kind: str, models: tuple[str, ...], requests: list[tuple[str, str, str | None]]
) -> None:
    steps = plan(target(kind, models))
    assert [(s.method, s.url, s.model) for s in steps] == requests


def test_a_count_tokens_rung_sends_the_model_and_one_short_message_never_a_generation() -> None:
    steps = plan(target("anthropic", ("claude-x",)))
    body = json.loads(steps[1].content or b"")
    assert body == {"model": "claude-x", "messages": [{"role": "user", "content": "ping"}]}
    assert steps[1].headers["anthropic-version"] == "2023-06-01"
    assert steps[1].headers["x-api-key"] == KEY
    assert "max_tokens" not in body


@pytest.mark.parametrize("kind", ["anthropic", "gemini", "ollama", "localai", "lmstudio"])
def test_deep_off_asks_the_front_door_only(kind: str) -> None:
    steps = plan(target(kind, ("m",), deep=False))
    assert all(s.model is None for s in steps)
    assert len(steps) == 1


def test_without_models_no_kind_asks_a_per_model_rung() -> None:
    for kind in ("anthropic", "gemini", "ollama", "lmstudio"):
        assert all(s.model is None for s in plan(target(kind, ())))


# --- the judges --------------------------------------------------------------------------


def reply(status: int, body: object) -> Reply:
    return Reply(status, {}, json.dumps(body).encode())


@pytest.mark.parametrize(
    ("judge", "dialect", "answer", "outcome"),
    [
        (
            anthropic.judge_count_tokens,
            anthropic.DIALECT,
            reply(200, {"input_tokens": 8}),
            Oc.OK,
        ),
        (
            anthropic.judge_count_tokens,
            anthropic.DIALECT,
            reply(404, {"type": "error", "error": {"type": "not_found_error", "message": "m"}}),
            Oc.MODEL_NOT_FOUND,
        ),
        (
            anthropic.judge_count_tokens,
            anthropic.DIALECT,
            reply(529, {"type": "error", "error": {"type": "overloaded_error"}}),
            Oc.OVERLOADED,
        ),
        (
            anthropic.judge_count_tokens,
            anthropic.DIALECT,
            reply(401, {"type": "error", "error": {"type": "authentication_error"}}),
            Oc.AUTH_INVALID,
        ),
        (
            anthropic.judge_count_tokens,
            anthropic.DIALECT,
            reply(200, {"x": 1}),
            Oc.PROTOCOL_ERROR,
        ),
        (gemini.judge_count_tokens, gemini.DIALECT, reply(200, {"totalTokens": 2}), Oc.OK),
        (
            gemini.judge_count_tokens,
            gemini.DIALECT,
            reply(
                400,
                {
                    "error": {
                        "code": 400,
                        "status": "INVALID_ARGUMENT",
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                "reason": "API_KEY_INVALID",
                            }
                        ],
                    }
                },
            ),
            Oc.AUTH_INVALID,
        ),
        (
            gemini.judge_count_tokens,
            gemini.DIALECT,
            reply(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT"}}),
            Oc.OK,  # this endpoint refuses this model (an embedding model): left unjudged
        ),
        (
            gemini.judge_count_tokens,
            gemini.DIALECT,
            reply(404, {"error": {"code": 404, "status": "NOT_FOUND"}}),
            Oc.MODEL_NOT_FOUND,
        ),
        (
            ollama.judge_ollama_show,
            ollama.DIALECT,
            reply(200, {"modelfile": "FROM x", "details": {}}),
            Oc.OK,
        ),
        (
            ollama.judge_ollama_show,
            ollama.DIALECT,
            reply(404, {"error": "model 'x' not found"}),
            Oc.MODEL_NOT_FOUND,
        ),
        (ollama.judge_ollama_ps, ollama.DIALECT, reply(200, {"models": []}), Oc.OK),
        (
            lmstudio.judge_lmstudio_model,
            lmstudio.DIALECT,
            reply(200, {"id": "m", "object": "model", "state": "loaded"}),
            Oc.OK,
        ),
        (
            lmstudio.judge_lmstudio_model,
            lmstudio.DIALECT,
            reply(200, {"id": "m", "object": "model", "state": "not-loaded"}),
            Oc.LOADING,
        ),
        (
            lmstudio.judge_lmstudio_model,
            lmstudio.DIALECT,
            reply(200, {"id": "m", "object": "model"}),
            Oc.PROTOCOL_ERROR,
        ),
        (
            lmstudio.judge_lmstudio_model,
            lmstudio.DIALECT,
            reply(404, {"error": {"message": "Model not found", "code": "model_not_found"}}),
            Oc.MODEL_NOT_FOUND,
        ),
        (
            ollama.judge_ollama_ps,
            ollama.DIALECT,
            reply(200, {"version": "1"}),
            Oc.PROTOCOL_ERROR,
        ),
    ],
)
def test_a_rung_answer_is_judged_the_way_its_provider_documents_it(
    judge: object, dialect: object, answer: Reply, outcome: Oc
) -> None:
    finding = judge(answer, dialect, ("m",), 0.0)  # type: ignore[operator]
    assert finding.outcome is outcome


def test_a_rung_that_finds_its_model_missing_names_that_model_missing() -> None:
    finding = anthropic.judge_count_tokens(
        reply(404, {"type": "error", "error": {"type": "not_found_error"}}),
        anthropic.DIALECT,
        ("claude-x",),
        0.0,
    )
    assert finding.missing == frozenset({"claude-x"})


# --- against the simulator (in-process) ------------------------------------------------


@pytest.mark.parametrize("kind", ["anthropic", "gemini", "ollama", "local", "localai", "lmstudio"])
async def test_every_rung_of_a_healthy_provider_passes_and_every_model_is_ok(
    inproc: InProcessSimulator, mock_client: httpx.AsyncClient, kind: str
) -> None:
    t = target_for(inproc, kind)
    result = await probe(mock_client, t)
    assert result.outcome is Oc.OK, result.detail
    assert dict(result.model_outcomes) == {mesh: Oc.OK for mesh, _ in t.models}
    assert inproc.requests(kind) == len(plan(t))


@pytest.mark.parametrize(
    ("kind", "state", "outcome"),
    [
        ("anthropic", "overloaded", Oc.OVERLOADED),
        ("gemini", "overloaded", Oc.OVERLOADED),
        ("ollama", "overloaded", Oc.OVERLOADED),
        ("anthropic", "loading", Oc.LOADING),
        ("lmstudio", "not_loaded", Oc.LOADING),
        ("lmstudio", "overloaded", Oc.OVERLOADED),
    ],
)
async def test_one_model_overloaded_or_loading_is_that_model_alone_and_the_provider_stays_ok(
    inproc: InProcessSimulator,
    mock_client: httpx.AsyncClient,
    kind: str,
    state: str,
    outcome: Oc,
) -> None:
    first, second = inproc.provider(kind).models[:2]
    inproc.set_behaviour(kind, model_states={first: state})
    result = await probe(mock_client, target_for(inproc, kind))
    assert result.outcome is Oc.OK
    assert dict(result.model_outcomes) == {f"mesh/{first}": outcome, f"mesh/{second}": Oc.OK}
    assert result.detail is not None
    assert f"model {first}" in result.detail


async def test_ollama_show_finds_a_model_missing_while_its_sibling_is_there(
    inproc: InProcessSimulator, mock_client: httpx.AsyncClient
) -> None:
    inproc.set_behaviour("ollama", missing_models=["nomic-embed-text:latest"])
    t = target_for(inproc, "ollama", models=(("a", "llama3.2"), ("b", "nomic-embed-text")))
    result = await probe(mock_client, t)
    assert result.outcome is Oc.MODEL_NOT_FOUND
    assert dict(result.model_outcomes) == {"a": Oc.OK, "b": Oc.MODEL_NOT_FOUND}


async def test_lm_studio_finds_a_model_missing_by_its_own_rung_while_its_sibling_is_there(
    inproc: InProcessSimulator, mock_client: httpx.AsyncClient
) -> None:
    inproc.set_behaviour("lmstudio", missing_models=["meta-llama-3.1-8b-instruct"])
    result = await probe(mock_client, target_for(inproc, "lmstudio"))
    assert result.outcome is Oc.MODEL_NOT_FOUND
    assert dict(result.model_outcomes) == {
        "mesh/qwen2.5-7b-instruct": Oc.OK,
        "mesh/meta-llama-3.1-8b-instruct": Oc.MODEL_NOT_FOUND,
    }


async def test_a_model_the_list_finds_missing_is_not_asked_again_by_its_own_rung(
    inproc: InProcessSimulator, mock_client: httpx.AsyncClient
) -> None:
    inproc.set_behaviour("anthropic", missing_models=["claude-3-5-haiku-20241022"])
    result = await probe(mock_client, target_for(inproc, "anthropic"))
    assert result.outcome is Oc.MODEL_NOT_FOUND
    assert inproc.requests("anthropic") == 2  # the list and the one model it found


async def test_a_bad_key_ends_the_ladder_at_its_first_rung_as_the_providers_fault(
    inproc: InProcessSimulator, mock_client: httpx.AsyncClient
) -> None:
    t = target_for(
        inproc, "gemini", models=(("g", "gemini-2.0-flash"),), api_key=SecretStr("AIza-wrong")
    )
    result = await probe(mock_client, t)
    assert (result.outcome, result.status) == (Oc.AUTH_INVALID, 400)
    assert inproc.requests("gemini") == 1


async def test_llama_cpp_loading_is_seen_on_health_while_its_models_list_already_answers(
    inproc: InProcessSimulator, mock_client: httpx.AsyncClient
) -> None:
    inproc.set_behaviour("local", model_states={"qwen2.5-7b-instruct": "loading"})
    async with httpx.AsyncClient(transport=inproc.transport()) as c:
        listed = await c.get(inproc.url("local") + "/v1/models")
    assert listed.status_code == 200
    result = await probe(mock_client, target_for(inproc, "local"))
    assert (result.outcome, result.status) == (Oc.LOADING, 503)


async def test_localai_not_ready_is_loading(
    inproc: InProcessSimulator, mock_client: httpx.AsyncClient
) -> None:
    inproc.set_behaviour("localai", model_states={"gpt-4": "loading"})
    result = await probe(mock_client, target_for(inproc, "localai"))
    assert result.outcome is Oc.LOADING


# --- over a real socket ----------------------------------------------------------------


async def test_a_count_rung_posts_its_body_over_a_real_socket(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget
) -> None:
    sim.set_behaviour("anthropic", model_states={"claude-3-5-sonnet-20241022": "overloaded"})
    result = await probe(client, make_target("anthropic"))
    assert result.outcome is Oc.OK
    assert dict(result.model_outcomes) == {
        "mesh/claude-3-5-sonnet-20241022": Oc.OVERLOADED,
        "mesh/claude-3-5-haiku-20241022": Oc.OK,
    }


async def test_per_model_rungs_go_a_few_at_a_time_not_one_round_trip_per_model() -> None:
    sim = InProcessSimulator()
    names = tuple(f"claude-{i}" for i in range(10))
    sim.set_behaviour("anthropic", models=list(names))
    inner = sim.transport()
    in_flight, most = 0, 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return await inner.handle_async_request(request)

    t = target_for(sim, "anthropic", models=tuple((f"mesh/{n}", n) for n in names))
    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as c:
        result = await probe(c, t)
    assert result.outcome is Oc.OK
    assert len(result.model_outcomes) == 10
    assert most == RUNG_CONCURRENCY


async def test_a_connection_failure_on_a_models_rung_is_the_providers() -> None:
    sim = InProcessSimulator()
    inner = sim.transport()

    async def refuse_rungs(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            raise httpx.ConnectError("refused", request=request)
        return await inner.handle_async_request(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse_rungs)) as c:
        result = await probe(c, target_for(sim, "anthropic"))
    assert result.outcome is Oc.CONNECT_ERROR


async def test_an_lm_studio_model_not_loaded_goes_to_standby_alone_and_comes_back_once_loaded(
    inproc: InProcessSimulator, mock_client: httpx.AsyncClient
) -> None:
    qwen, llama = inproc.provider("lmstudio").models[:2]
    mesh = Mesh.build(
        ["lmstudio"],
        {f"mesh/{qwen}": "lmstudio", f"mesh/{llama}": "lmstudio"},
        {"local": [f"mesh/{qwen}", f"mesh/{llama}"]},
    )
    core = HealthCore(mesh, initial_state(mesh), DEFAULT_POLICY, ConnectivityGuard(enabled=False))
    inproc.set_behaviour("lmstudio", model_states={llama: "not_loaded"})
    step = observe(core, "lmstudio", await probe(mock_client, target_for(inproc, "lmstudio")), 10.0)
    state = core.state
    assert state.models[f"mesh/{llama}"].status == "standby"
    assert state.models[f"mesh/{llama}"].deactivation_reason == "model_loading"
    assert state.models[f"mesh/{qwen}"].is_active
    assert state.providers["lmstudio"].is_healthy()
    assert state.pools["local"].active_models == {f"mesh/{qwen}"}
    said = [e.fields() for e in step.events if e.name == "model.deactivated"]
    assert [(f["model"], f["reason"]) for f in said] == [(f"mesh/{llama}", "model_loading")]

    inproc.set_behaviour("lmstudio", model_states={})  # loaded now
    step = observe(core, "lmstudio", await probe(mock_client, target_for(inproc, "lmstudio")), 20.0)
    assert state.models[f"mesh/{llama}"].is_active
    assert [e.name for e in step.events if e.name.startswith("model.")] == ["model.reactivated"]
