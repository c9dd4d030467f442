"""No API key or secret header value ever shows: not in results, reprs, details or logs."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from modelmesh_healthd.probes import (
    HttpOptions,
    Judgement,
    ProbeTarget,
    Reply,
    Step,
    probe,
    run_steps,
)
from modelmesh_healthd.simulator import KINDS, Behaviour, Simulator
from modelmesh_healthd.state import Outcome

KEY = "sk-LEAKCHECK-5f2b9c0e7d"
HEADER_SECRET = "hdr-LEAKCHECK-a81f"


@pytest.mark.parametrize("kind", KINDS)
async def test_no_behaviour_of_any_kind_leaks_a_secret(
    sim: Simulator, client: httpx.AsyncClient, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The simulator expects this very key, so healthy answers are reached as well as failures.
    sim.set_behaviour(kind, api_key=KEY)
    options = HttpOptions(headers={"x-secret": HEADER_SECRET}) if kind == "http" else None
    target = ProbeTarget(
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
    shown: list[str] = [repr(target), str(target)]
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log requests at debug level
    with capture_logs() as logs:
        for behaviour in Behaviour:
            sim.set_behaviour(kind, behaviour)
            result = await probe(client, target)
            shown += [repr(result), str(result.detail), json.dumps(result.to_dict())]
    shown += [caplog.text, repr(logs)]
    for text in shown:
        assert KEY not in text
        assert HEADER_SECRET not in text


async def test_a_secret_that_reaches_a_detail_is_scrubbed_before_the_result(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    # A judge that echoes the key (as a provider message might) still cannot leak it.
    def echoing_judge(reply: Reply, kind: str, models: tuple[str, ...], now: float) -> Judgement:
        return Judgement(Outcome.AUTH_INVALID, f"provider said: bad key {KEY}\nand {HEADER_SECRET}")

    target = ProbeTarget(
        name="openai",
        kind="openai",
        base_url=sim.url("openai"),
        api_key=SecretStr(KEY),
        headers={"x-org-token": HEADER_SECRET},
    )
    step = Step("GET", f"{sim.url('openai')}/models", {}, echoing_judge)
    result = await run_steps(client, target, (step,))
    assert result.detail == "provider said: bad key *** and ***"
