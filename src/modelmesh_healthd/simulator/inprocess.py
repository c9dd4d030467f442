"""The simulator's providers answered in-process through `httpx.MockTransport`: no socket.

For fast tests of what providers *say* (every kind x every answer-level behaviour). What a
connection *does* (hang, slow drip, reset, a broken Content-Length) needs a real socket: the
`Simulator` server plays those.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from types import MappingProxyType
from typing import Any

import httpx

from modelmesh_healthd.simulator.answers import answer
from modelmesh_healthd.simulator.behaviours import Behaviour, SimProvider
from modelmesh_healthd.simulator.defaults import default_providers
from modelmesh_healthd.simulator.kinds import SIMS
from modelmesh_healthd.simulator.server import SETTABLE, coerce

__all__ = ["CONNECTION_LEVEL", "InProcessSimulator"]

CONNECTION_LEVEL = frozenset(
    {Behaviour.HANG, Behaviour.SLOW_DRIP, Behaviour.RESET, Behaviour.TRUNCATED}
)
"""Behaviours only a real socket can play."""

_GARBAGE = b"\x89PNG\r\n<html>not json\x00\xff"


class InProcessSimulator:
    """The simulated providers behind an `httpx.MockTransport`.

    Use `httpx.AsyncClient(transport=sim.transport())`; `sim.url(name)` is a provider's base URL.

    Args:
        providers: The providers; one of each kind when None.
    """

    base_url = "http://sim.invalid"

    def __init__(self, providers: Iterable[SimProvider] | None = None) -> None:
        chosen = list(providers) if providers is not None else default_providers()
        self._providers = {p.name: p for p in chosen}

    @property
    def providers(self) -> Mapping[str, SimProvider]:
        """The simulated providers by name."""
        return MappingProxyType(self._providers)

    def provider(self, name: str) -> SimProvider:
        """One provider's state."""
        return self._providers[name]

    def url(self, name: str) -> str:
        """The base URL to configure for provider `name`."""
        return f"{self.base_url}/{name}{SIMS[self._providers[name].kind].url_suffix}"

    def set_behaviour(
        self, name: str, behaviour: Behaviour | str | None = None, **changes: Any
    ) -> SimProvider:
        """Switch a provider's behaviour and/or state, as `Simulator.set_behaviour` does.

        Raises:
            ValueError: A connection-level behaviour, an unknown field or a bad value.
        """
        p = self._providers[name]
        unknown = set(changes) - SETTABLE
        if unknown:
            raise ValueError(f"unknown provider fields: {', '.join(sorted(unknown))}")
        new = Behaviour(behaviour) if behaviour is not None else p.behaviour
        if new in CONNECTION_LEVEL:
            raise ValueError(f"{new} needs a real socket: use Simulator")
        coerced = {k: coerce(k, v) for k, v in changes.items()}
        p.behaviour = new
        for k, v in coerced.items():
            setattr(p, k, v)
        return p

    def requests(self, name: str) -> int:
        """Requests provider `name` received."""
        return self._providers[name].requests

    def transport(self) -> httpx.MockTransport:
        """A transport that answers every request in-process."""
        return httpx.MockTransport(self._handle)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        name, _, tail = request.url.path.lstrip("/").partition("/")
        p = self._providers.get(name)
        if p is None:
            return httpx.Response(404, json={"error": "no such simulated provider"})
        p.requests += 1
        if p.behaviour is Behaviour.GARBAGE:
            return httpx.Response(
                200, content=_GARBAGE, headers={"content-type": "application/json"}
            )
        if p.behaviour is Behaviour.HUGE:
            return httpx.Response(200, content=_huge(p.huge_bytes))
        query = dict(request.url.params)
        content = await request.aread()
        got = answer(p, tail, request.headers, query, method=request.method, body=content)
        headers = {**got.headers, "content-type": got.content_type}
        return httpx.Response(got.status, content=got.body, headers=headers)


async def _huge(size: int) -> AsyncIterator[bytes]:
    chunk = b" " * 65536
    left = size
    while left > 0:
        n = min(left, len(chunk))
        yield chunk[:n]
        left -= n
