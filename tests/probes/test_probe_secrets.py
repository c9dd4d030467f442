"""No API key or secret header value ever shows: not in results, reprs, details or logs."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from modelmesh_healthd.probes import (
    Dialect,
    Finding,
    HttpOptions,
    ProbeTarget,
    Reply,
    Step,
    dialect_of,
    probe,
    run_steps,
)
from modelmesh_healthd.simulator import (
    CONNECTION_LEVEL,
    KINDS,
    Behaviour,
    InProcessSimulator,
    Simulator,
)
from modelmesh_healthd.state import Outcome

KEY = "sk-LEAKCHECK-5f2b9c0e7d"
HEADER_SECRET = "hdr-LEAKCHECK-a81f"


def leak_target(sim: Simulator | InProcessSimulator, kind: str) -> ProbeTarget:
    options = HttpOptions(headers={"x-secret": HEADER_SECRET}) if kind == "http" else None
    return ProbeTarget(
        name=kind,
        kind=kind,
        base_url=sim.url(kind),
        api_key=SecretStr(KEY),
        headers={"x-org-token": HEADER_SECRET},
        models=(("mesh/m", "m"),),
        timeout=0.3,
        max_body_bytes=16 * 1024,
        options=options,
    )


def assert_no_secret(shown: list[str]) -> None:
    for text in shown:
        assert KEY not in text
        assert HEADER_SECRET not in text


@pytest.mark.parametrize("kind", KINDS)
async def test_no_answer_of_any_kind_leaks_a_secret(
    inproc: InProcessSimulator, mock_client: httpx.AsyncClient, kind: str
) -> None:
    # The simulator expects this very key, so healthy answers are reached as well as failures.
    inproc.set_behaviour(kind, api_key=KEY)
    target = leak_target(inproc, kind)
    shown: list[str] = [repr(target), str(target)]
    with capture_logs() as logs:
        for behaviour in Behaviour:
            if behaviour in CONNECTION_LEVEL:
                continue
            inproc.set_behaviour(kind, behaviour)
            result = await probe(mock_client, target)
            shown += [repr(result), str(result.detail), json.dumps(result.to_dict())]
    assert_no_secret([*shown, repr(logs)])


@pytest.mark.parametrize("kind", ["openai", "anthropic", "http"])
async def test_no_behaviour_over_a_real_transport_leaks_a_secret(
    sim: Simulator, client: httpx.AsyncClient, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Real transports log requests (httpx, httpcore at debug level): those logs are checked too.
    sim.set_behaviour(kind, api_key=KEY)
    target = leak_target(sim, kind)
    shown: list[str] = [repr(target), str(target)]
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        for behaviour in Behaviour:
            sim.set_behaviour(kind, behaviour, drip_interval=0.05)
            result = await probe(client, target)
            shown += [repr(result), str(result.detail), json.dumps(result.to_dict())]
    assert_no_secret([*shown, caplog.text, repr(logs)])


async def test_a_secret_that_reaches_a_detail_is_scrubbed_before_the_result(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    # A judge that echoes the key (as a provider message might) still cannot leak it.
    def echoing_judge(
        reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
    ) -> Finding:
        return Finding(Outcome.AUTH_INVALID, f"provider said: bad key {KEY}\nand {HEADER_SECRET}")

    target = ProbeTarget(
        name="openai",
        kind="openai",
        base_url=sim.url("openai"),
        api_key=SecretStr(KEY),
        headers={"x-org-token": HEADER_SECRET},
    )
    step = Step("GET", f"{sim.url('openai')}/models", {}, echoing_judge)
    result = await run_steps(client, target, (step,), dialect_of("openai"))
    assert result.detail == "provider said: bad key *** and ***"
