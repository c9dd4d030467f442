"""No request with a token cost is ever sent unless the canary is on.

Property: whatever the kinds, models, ladder depth and provider behaviours, a probe (every rung)
sends only requests that generate nothing; the canary's requests are exactly the costly kind
(so the detector is not vacuous)."""

from __future__ import annotations

import asyncio

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from modelmesh_healthd.kinds import KINDS
from modelmesh_healthd.probes import HttpOptions, ProbeTarget, probe
from modelmesh_healthd.probes.canary import CANARY_KINDS, build_request, is_costly
from modelmesh_healthd.simulator import Behaviour, InProcessSimulator
from modelmesh_healthd.simulator.behaviours import MODEL_STATES
from modelmesh_healthd.simulator.inprocess import CONNECTION_LEVEL

PROBED = sorted(name for name, spec in KINDS.items() if spec.probed)
BEHAVIOURS = sorted(b for b in Behaviour if b not in CONNECTION_LEVEL)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[str, tuple[str, ...], bool, Behaviour, dict[str, str]]:
    kind = draw(st.sampled_from(PROBED))
    known = InProcessSimulator().provider(kind).models
    pool = [*known, "no-such-model", "org/some-model", "o3-mini"]
    models = tuple(draw(st.lists(st.sampled_from(pool), max_size=4, unique=True)))
    deep = draw(st.booleans())
    behaviour = draw(st.sampled_from(BEHAVIOURS))
    states = draw(
        st.dictionaries(st.sampled_from(pool), st.sampled_from(sorted(MODEL_STATES)), max_size=2)
    )
    return kind, models, deep, behaviour, states


async def _probe_recording(
    kind: str, models: tuple[str, ...], deep: bool, behaviour: Behaviour, states: dict[str, str]
) -> list[httpx.Request]:
    sim = InProcessSimulator()
    sim.set_behaviour(kind, behaviour, model_states=states)
    inner = sim.transport()
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return await inner.handle_async_request(request)

    p = sim.provider(kind)
    target = ProbeTarget(
        name=kind,
        kind=kind,
        base_url=sim.url(kind),
        api_key=SecretStr(p.api_key) if p.api_key else None,
        models=tuple((f"mesh/{m}", m) for m in models),
        deep=deep,
        timeout=2.0,
        options=HttpOptions() if kind == "http" else None,
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
        await probe(client, target)
    return sent


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_no_probe_of_any_kind_depth_or_behaviour_sends_a_request_that_costs_tokens(
    scenario: tuple[str, tuple[str, ...], bool, Behaviour, dict[str, str]],
) -> None:
    sent = asyncio.run(_probe_recording(*scenario))
    assert sent, "a probe sends at least one request"
    costly = [f"{r.method} {r.url}" for r in sent if is_costly(r.method, str(r.url))]
    assert costly == []


@given(
    st.sampled_from(sorted(CANARY_KINDS)),
    st.sampled_from(["gpt-4o", "o3-mini", "gemini-2.5-pro"]),
    st.booleans(),
)
def test_every_canary_request_is_one_the_detector_calls_costly(
    kind: str, model: str, stream: bool
) -> None:
    target = ProbeTarget(name="p", kind=kind, base_url="https://h.example", api_key=SecretStr("k"))
    req = build_request(target, model, stream=stream)
    assert req is not None
    assert is_costly(req.method, req.url)
