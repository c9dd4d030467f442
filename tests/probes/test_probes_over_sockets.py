"""Every kind, every behaviour: answers in-process through MockTransport (fast), connection
failures (hang, slow drip, reset, truncated) over real sockets, and one kind's every behaviour
over both real transports, so the two transports are shown to agree."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import httpx
import pytest

from modelmesh_healthd.probes import (
    BodyCondition,
    ClientOptions,
    Comparison,
    HttpOptions,
    ProbeTarget,
    Transport,
    build_client,
    probe,
)
from modelmesh_healthd.simulator import (
    CONNECTION_LEVEL,
    KINDS,
    Behaviour,
    InProcessSimulator,
    Simulator,
)
from modelmesh_healthd.state import Outcome

MakeTarget = Callable[..., ProbeTarget]

B = Behaviour
O = Outcome  # noqa: E741 - a one-letter alias keeps the expectation table readable

EXPECTED: dict[Behaviour, Outcome] = {
    B.HEALTHY: O.OK,
    B.UNAUTHORIZED: O.AUTH_INVALID,
    B.FORBIDDEN: O.AUTH_INVALID,
    B.KEY_REVOKED: O.AUTH_INVALID,
    B.RATE_LIMITED: O.RATE_LIMITED,
    B.INSUFFICIENT_QUOTA: O.QUOTA_EXHAUSTED,
    B.PAYMENT_REQUIRED: O.QUOTA_EXHAUSTED,
    B.OVERLOADED: O.OVERLOADED,
    B.LOADING: O.LOADING,
    B.SERVER_ERROR: O.SERVER_ERROR,
    B.BAD_GATEWAY: O.SERVER_ERROR,
    B.UNAVAILABLE: O.OVERLOADED,
    B.HANG: O.TIMEOUT,
    B.SLOW_DRIP: O.TIMEOUT,
    B.RESET: O.CONNECT_ERROR,
    B.GARBAGE: O.PROTOCOL_ERROR,
    B.TRUNCATED: O.PROTOCOL_ERROR,
    B.HUGE: O.PROTOCOL_ERROR,
}
# A local server's 503 that is not "Loading model" is vLLM's dead or draining engine.
KIND_EXCEPTIONS = {
    ("local", B.OVERLOADED): O.SERVER_ERROR,
    ("local", B.UNAVAILABLE): O.SERVER_ERROR,
}

HTTP_OPTIONS = HttpOptions(
    path="/status", body=(BodyCondition(json_path="$.status", op=Comparison.EQ, value="ok"),)
)


def expected_outcome(kind: str, behaviour: Behaviour) -> Outcome:
    return KIND_EXCEPTIONS.get((kind, behaviour), EXPECTED[behaviour])


def matrix_target(make_target: MakeTarget, kind: str, behaviour: Behaviour) -> ProbeTarget:
    slow = behaviour in (B.HANG, B.SLOW_DRIP)
    options = HTTP_OPTIONS if kind == "http" else None
    return make_target(
        kind, timeout=0.2 if slow else 2.0, max_body_bytes=64 * 1024, options=options
    )


ANSWERS = [b for b in Behaviour if b not in CONNECTION_LEVEL]


def check_outcome(result_outcome: Outcome, detail: str | None, latency: float | None) -> None:
    if result_outcome is O.OK:
        assert detail is None
        assert latency is not None
    else:
        assert detail


@pytest.mark.parametrize("behaviour", ANSWERS)
@pytest.mark.parametrize("kind", KINDS)
async def test_every_answer_of_every_kind_gets_its_outcome(
    inproc: InProcessSimulator,
    mock_client: httpx.AsyncClient,
    make_mock_target: MakeTarget,
    kind: str,
    behaviour: Behaviour,
) -> None:
    inproc.set_behaviour(kind, behaviour)
    result = await probe(mock_client, matrix_target(make_mock_target, kind, behaviour))
    assert result.outcome is expected_outcome(kind, behaviour), result.detail
    assert inproc.requests(kind) >= 1
    check_outcome(result.outcome, result.detail, result.latency)


@pytest.mark.parametrize("behaviour", sorted(CONNECTION_LEVEL))
@pytest.mark.parametrize("kind", KINDS)
async def test_every_connection_failure_of_every_kind_gets_its_outcome(
    sim: Simulator,
    default_client: httpx.AsyncClient,
    make_target: MakeTarget,
    kind: str,
    behaviour: Behaviour,
) -> None:
    sim.set_behaviour(kind, behaviour, drip_interval=0.05)
    target = matrix_target(make_target, kind, behaviour)
    async with asyncio.timeout(5):  # the probe's own deadline must end it long before this
        result = await probe(default_client, target)
    assert result.outcome is expected_outcome(kind, behaviour), result.detail
    assert sim.requests(kind) >= 1
    check_outcome(result.outcome, result.detail, result.latency)


@pytest.mark.parametrize("behaviour", list(Behaviour))
async def test_both_transports_give_every_behaviour_the_same_outcome(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget, behaviour: Behaviour
) -> None:
    sim.set_behaviour("openai", behaviour, drip_interval=0.05)
    target = matrix_target(make_target, "openai", behaviour)
    async with asyncio.timeout(5):
        result = await probe(client, target)
    assert result.outcome is expected_outcome("openai", behaviour), result.detail
    check_outcome(result.outcome, result.detail, result.latency)


async def test_a_healthy_provider_reports_every_configured_model_present(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget
) -> None:
    result = await probe(client, make_target("openai"))
    assert dict(result.model_outcomes) == {"mesh/gpt-4o": O.OK, "mesh/gpt-4o-mini": O.OK}


@pytest.mark.parametrize(
    "kind", ["openai", "anthropic", "gemini", "azure-openai", "ollama", "local"]
)
async def test_a_model_missing_from_the_list_is_model_not_found_for_that_model_only(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget, kind: str
) -> None:
    p = sim.provider(kind)
    target = make_target(kind, models=(("mesh/a", p.models[0]), ("mesh/b", "no-such-model")))
    result = await probe(client, target)
    assert result.outcome is O.MODEL_NOT_FOUND
    assert dict(result.model_outcomes) == {"mesh/a": O.OK, "mesh/b": O.MODEL_NOT_FOUND}


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini", "azure-openai"])
async def test_one_model_is_looked_up_by_its_own_url_and_a_404_marks_it_missing(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget, kind: str
) -> None:
    model = sim.provider(kind).models[0]
    sim.set_behaviour(kind, missing_models=[model])
    result = await probe(client, make_target(kind, models=(("mesh/x", model),)))
    assert result.outcome is O.MODEL_NOT_FOUND
    assert result.status == 404
    assert dict(result.model_outcomes) == {"mesh/x": O.MODEL_NOT_FOUND}


async def test_model_lookup_list_reads_the_list_even_for_one_model(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget
) -> None:
    target = make_target("openai", models=(("mesh/x", "gpt-4o"),), model_lookup="list")
    result = await probe(client, target)
    assert result.outcome is O.OK
    assert dict(result.model_outcomes) == {"mesh/x": O.OK}


async def test_two_mesh_models_on_one_upstream_name_share_its_verdict(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget
) -> None:
    sim.set_behaviour("openai", missing_models=["gpt-4o"])
    target = make_target(
        "openai", models=(("pool1/x", "gpt-4o"), ("pool2/x", "gpt-4o"), ("y", "o3-mini"))
    )
    result = await probe(client, target)
    assert dict(result.model_outcomes) == {
        "pool1/x": O.MODEL_NOT_FOUND,
        "pool2/x": O.MODEL_NOT_FOUND,
        "y": O.OK,
    }


async def test_a_wrong_key_is_rejected_the_way_the_kind_rejects_it(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget
) -> None:
    from pydantic import SecretStr

    result = await probe(client, make_target("gemini", api_key=SecretStr("AIza-wrong")))
    assert (result.outcome, result.status) == (O.AUTH_INVALID, 400)


async def test_an_openrouter_key_out_of_credit_is_quota_exhausted(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget
) -> None:
    sim.set_behaviour("openrouter", limit_remaining=0)
    result = await probe(client, make_target("openrouter"))
    assert result.outcome is O.QUOTA_EXHAUSTED
    assert dict(result.headroom) == {"credits": 0.0}


async def test_a_rate_limit_says_when_to_come_back(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget
) -> None:
    sim.set_behaviour("openai", B.RATE_LIMITED, retry_after=3)
    result = await probe(client, make_target("openai"))
    assert (result.outcome, result.retry_after) == (O.RATE_LIMITED, 3.0)
    assert result.headroom["requests"] == 0.0


@pytest.mark.parametrize("behaviour", [B.HANG, B.SLOW_DRIP])
async def test_a_hung_or_dripping_server_ends_in_timeout_at_the_deadline(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget, behaviour: Behaviour
) -> None:
    sim.set_behaviour("openai", behaviour, drip_interval=0.02)
    async with asyncio.timeout(5):
        result = await probe(client, make_target("openai", timeout=0.3))
    assert result.outcome is O.TIMEOUT
    assert result.elapsed >= 0.3


async def test_a_huge_body_is_read_only_up_to_the_cap(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget
) -> None:
    cap = 256 * 1024
    sim.set_behaviour("openai", B.HUGE)
    result = await probe(client, make_target("openai", models=(), max_body_bytes=cap))
    assert result.outcome is O.PROTOCOL_ERROR
    assert cap <= result.bytes_read <= cap + 128 * 1024  # at most one transport chunk over


async def test_a_refused_port_is_a_connect_error(client: httpx.AsyncClient) -> None:
    with socket.socket() as s:  # find a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = ProbeTarget(name="gone", kind="openai", base_url=f"http://127.0.0.1:{port}/v1")
    result = await probe(client, target)
    assert result.outcome is O.CONNECT_ERROR
    assert result.status is None
    assert result.latency is None


async def test_slow_but_correct_is_degraded(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget
) -> None:
    result = await probe(client, make_target("openai", degraded_after=0.0))
    assert result.outcome is O.DEGRADED
    assert result.ok


async def test_local_with_neither_key_nor_models_asks_only_health(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget
) -> None:
    result = await probe(client, make_target("local", models=()))
    assert result.outcome is O.OK
    assert sim.requests("local") == 1


async def test_local_with_models_asks_health_then_the_models_list(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget
) -> None:
    result = await probe(client, make_target("local"))
    assert result.outcome is O.OK
    assert sim.requests("local") == 2


async def test_phase_timings_show_a_new_connection_and_then_its_reuse(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget
) -> None:
    target = make_target("openai")
    first = await probe(client, target)
    second = await probe(client, target)
    assert first.timings.connect is not None
    assert first.timings.ttfb is not None
    assert first.timings.transfer is not None
    assert second.timings.connect is None  # the pooled connection was reused
    assert second.timings.ttfb is not None


async def test_a_probe_result_drives_the_health_core_as_a_verdict(
    sim: Simulator, client: httpx.AsyncClient, make_target: MakeTarget
) -> None:
    from modelmesh_healthd.state import Mesh, apply_probe, initial_state

    mesh = Mesh.build(
        ["openai"],
        {"mesh/gpt-4o": "openai", "mesh/gpt-4o-mini": "openai"},
        {"chat": ["mesh/gpt-4o"]},
    )
    state = initial_state(mesh)
    sim.set_behaviour("openai", missing_models=["gpt-4o"])
    result = await probe(client, make_target("openai"))
    apply_probe(mesh, state, "openai", result, now=1000.0)
    assert state.models["mesh/gpt-4o"].deactivation_reason == "model_not_found"
    assert state.models["mesh/gpt-4o-mini"].is_active

    sim.set_behaviour("openai", Behaviour.KEY_REVOKED, missing_models=[])
    result = await probe(client, make_target("openai"))
    apply_probe(mesh, state, "openai", result, now=1010.0)
    assert state.providers["openai"].auth_valid is False
    assert state.models["mesh/gpt-4o-mini"].deactivation_reason == "auth_failure"


RAW_ANSWERS = {
    "not HTTP at all": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    "a malformed Content-Length": b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}",
    "a gzip body that is not gzip": (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nabcde"
    ),
}


@pytest.mark.parametrize("answer", list(RAW_ANSWERS), ids=list(RAW_ANSWERS))
async def test_a_server_answering_broken_http_is_a_protocol_error(
    client: httpx.AsyncClient, answer: str
) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(RAW_ANSWERS[answer])
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        target = ProbeTarget(name="raw", kind="openai", base_url=f"http://127.0.0.1:{port}/v1")
        result = await probe(client, target)
    finally:
        server.close()
        await server.wait_closed()
    assert result.outcome is O.PROTOCOL_ERROR, result.detail


async def test_without_phase_timings_only_connection_timings_are_missing(
    sim: Simulator, transport: Transport, make_target: MakeTarget
) -> None:
    options = ClientOptions(transport=transport, phase_timings=False, trust_env=False)
    async with build_client(options) as quiet:
        result = await probe(quiet, make_target("openai"))
    assert result.outcome is O.OK
    assert result.timings.connect is None
    assert result.timings.ttfb is not None
