"""The simulator's kinds come from the registry; the in-process simulator answers as the server."""

from __future__ import annotations

import httpx
import pytest

from modelmesh_healthd.kinds import KINDS
from modelmesh_healthd.simulator import (
    CONNECTION_LEVEL,
    DEFAULT_KEYS,
    Behaviour,
    InProcessSimulator,
    Simulator,
    default_providers,
)
from modelmesh_healthd.simulator.kinds import SIMS


def test_there_is_one_default_provider_for_every_probed_kind_of_the_registry() -> None:
    kinds = [p.kind for p in default_providers()]
    assert kinds == [name for name, spec in KINDS.items() if spec.probed]
    assert set(SIMS) == set(kinds) == set(DEFAULT_KEYS)


@pytest.mark.parametrize("kind", sorted(SIMS))
def test_every_simulated_key_travels_in_the_header_its_kind_names(kind: str) -> None:
    spec = KINDS[kind]
    assert spec.auth_header is not None
    headers = {spec.auth_header: spec.auth_prefix + "k-123"}
    assert SIMS[kind].given_key(headers, {}) == "k-123"


@pytest.mark.parametrize("behaviour", sorted(CONNECTION_LEVEL))
def test_the_in_process_simulator_refuses_what_only_a_socket_can_play(
    behaviour: Behaviour,
) -> None:
    with pytest.raises(ValueError, match="real socket"):
        InProcessSimulator().set_behaviour("openai", behaviour)


@pytest.mark.parametrize(
    ("behaviour", "path"),
    [
        ("healthy", "openai/v1/models"),
        ("key_revoked", "openai/v1/models"),
        ("rate_limited", "anthropic/v1/models?limit=1"),
        ("healthy", "gemini/v1beta/models/no-such-model"),
        ("healthy", "tavily/usage"),
        ("payment_required", "firecrawl/v1/team/credit-usage"),
    ],
)
async def test_in_process_and_over_a_socket_a_provider_gives_the_same_answer(
    behaviour: str, path: str
) -> None:
    name = path.split("/", 1)[0]
    inproc = InProcessSimulator()
    inproc.set_behaviour(name, behaviour)
    key = DEFAULT_KEYS[name] or ""
    spec = KINDS[name]
    headers = {"anthropic-version": "2023-06-01"}
    if spec.auth_header is not None:
        headers[spec.auth_header] = spec.auth_prefix + key
    async with httpx.AsyncClient(transport=inproc.transport()) as mock:
        a = await mock.get(f"{inproc.base_url}/{path}", headers=headers)
    async with Simulator() as sim, httpx.AsyncClient() as real:
        sim.set_behaviour(name, behaviour)
        b = await real.get(f"{sim.base_url}/{path}", headers=headers)
    assert (a.status_code, a.json()) == (b.status_code, b.json())
    assert a.headers.get("retry-after") == b.headers.get("retry-after")
