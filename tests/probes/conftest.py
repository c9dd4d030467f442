"""Fixtures for the probe tests: the simulator in-process (MockTransport) or live on a socket,
a client per transport, targets for either."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol, cast

import httpx
import pytest
from pydantic import SecretStr

from modelmesh_healthd.probes import (
    TRANSPORTS,
    ClientOptions,
    ProbeTarget,
    Transport,
    build_client,
)
from modelmesh_healthd.simulator import InProcessSimulator, Simulator


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> Transport:
    return cast(Transport, request.param)


@pytest.fixture
async def client(transport: Transport) -> AsyncIterator[httpx.AsyncClient]:
    async with build_client(
        ClientOptions(transport=transport, concurrency=8, trust_env=False)
    ) as c:
        yield c


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


class MakeTarget(Protocol):
    def __call__(self, name: str, **overrides: Any) -> ProbeTarget: ...


@pytest.fixture
def make_target(sim: Simulator) -> MakeTarget:
    """`make_target(name, **overrides)`: a target for one of `sim`'s providers."""

    def make(name: str, **overrides: Any) -> ProbeTarget:
        return target_for(sim, name, **overrides)

    return make


@pytest.fixture
def inproc() -> InProcessSimulator:
    """Every kind's simulated provider, answered in-process (no socket)."""
    return InProcessSimulator()


@pytest.fixture
async def mock_client(inproc: InProcessSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests `inproc` answers."""
    async with httpx.AsyncClient(transport=inproc.transport()) as c:
        yield c


@pytest.fixture
def make_mock_target(inproc: InProcessSimulator) -> MakeTarget:
    """`make_mock_target(name, **overrides)`: a target for one of `inproc`'s providers."""

    def make(name: str, **overrides: Any) -> ProbeTarget:
        return target_for(inproc, name, **overrides)

    return make


@pytest.fixture
async def default_client() -> AsyncIterator[httpx.AsyncClient]:
    """The default transport's client alone (for socket tests that need not run on each)."""
    async with build_client(ClientOptions(concurrency=8, trust_env=False)) as c:
        yield c
