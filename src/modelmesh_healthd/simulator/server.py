"""The provider simulator: one real aiohttp server hosting several simulated providers.

Each provider lives under its own path prefix (`http://127.0.0.1:PORT/<name>/...`), so each has a
distinct base URL, and speaks its kind's API closely enough for the probes. Behaviours switch
from Python (`set_behaviour`), over HTTP (`PUT /_sim/providers/<name>`) or by a scripted
`Scenario`; the server counts the requests each provider receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import Iterable, Mapping
from types import MappingProxyType, TracebackType
from typing import Any

import structlog
from aiohttp import web

from modelmesh_healthd.simulator.answers import Answer, answer
from modelmesh_healthd.simulator.behaviours import (
    MODEL_STATES,
    STREAMING,
    Behaviour,
    SimProvider,
)
from modelmesh_healthd.simulator.chat import ChatLog, is_chat_completion
from modelmesh_healthd.simulator.defaults import default_providers
from modelmesh_healthd.simulator.kinds import SIMS
from modelmesh_healthd.simulator.scenario import Scenario, ScenarioStep, run_scenario
from modelmesh_healthd.state.events import LogEventSpec

__all__ = ["LOG_EVENTS", "SETTABLE", "Simulator"]

LOG_EVENTS: tuple[LogEventSpec, ...] = (
    LogEventSpec("simulator.started", "info", ("base_url", "providers"), "The simulator listens."),
    LogEventSpec(
        "simulator.behaviour_set",
        "info",
        ("provider", "behaviour", "source"),
        "A simulated provider's behaviour or state was changed (source: api, http, scenario).",
    ),
    LogEventSpec("simulator.stopped", "info", ("requests",), "The simulator stopped."),
)

SETTABLE = frozenset(
    {
        "models",
        "missing_models",
        "retry_after",
        "drip_interval",
        "huge_bytes",
        "limit_remaining",
        "api_key",
        "model_states",
    }
)
"""Provider fields that `set_behaviour` (and the control endpoint) may change, besides behaviour."""

_log = structlog.get_logger("modelmesh_healthd.simulator")


def _respond(answer: Answer) -> web.Response:
    return web.Response(
        status=answer.status,
        body=answer.body,
        headers={**answer.headers, "content-type": answer.content_type},
    )


def _model_states(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(m, str) and v in MODEL_STATES for m, v in value.items()
    ):
        raise ValueError(f"model_states must map model names to one of {sorted(MODEL_STATES)}")
    return dict(value)


def coerce(field: str, value: Any) -> Any:
    """`value` checked and converted for provider field `field` (one of `SETTABLE`).

    Raises:
        ValueError: The value has the wrong type or range.
    """
    if field in ("models",):
        if not isinstance(value, list | tuple) or not all(isinstance(m, str) for m in value):
            raise ValueError(f"{field} must be a list of strings")
        return tuple(value)
    if field == "missing_models":
        if not isinstance(value, list | tuple | set | frozenset) or not all(
            isinstance(m, str) for m in value
        ):
            raise ValueError(f"{field} must be a list of strings")
        return frozenset(value)
    if field in ("retry_after", "drip_interval"):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{field} must be a non-negative number")
        return float(value)
    if field == "huge_bytes":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{field} must be a non-negative integer")
        return value
    if field == "limit_remaining":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"{field} must be a number or null")
        return None if value is None else float(value)
    if field == "model_states":
        return _model_states(value)
    if value is not None and not isinstance(value, str):  # api_key
        raise ValueError(f"{field} must be a string or null")
    return value


class Simulator:
    """Simulated AI providers on one local HTTP server.

    Use as `async with Simulator() as sim:`; then `sim.url("openai")` is that provider's base URL.

    Args:
        providers: The providers to simulate; one of each kind (`defaults.default_providers`) when
            None.
        host: Address to listen on (loopback by default).
        port: Port; 0 picks a free one.
        scenario: A timeline of behaviour changes to play from start; its providers replace
            `providers` when it names any.
    """

    def __init__(
        self,
        providers: Iterable[SimProvider] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        scenario: Scenario | None = None,
    ) -> None:
        if scenario is not None and scenario.providers:
            providers = scenario.build_providers()
        chosen = list(providers) if providers is not None else default_providers()
        self._providers: dict[str, SimProvider] = {}
        for p in chosen:
            if p.name in self._providers:
                raise ValueError(f"duplicate provider name {p.name!r}")
            self._providers[p.name] = p
        if scenario is not None:
            scenario.check(self._providers)
        self._host, self._port = host, port
        self._scenario = scenario
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._scenario_task: asyncio.Task[None] | None = None
        self.base_url = ""
        self.chat = ChatLog()
        """Chat completion requests (a router's traffic, not probes) per provider."""

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening (and playing the scenario, if any)."""
        app = web.Application()
        app.router.add_get("/_sim/providers", self._list_providers)
        app.router.add_get("/_sim/providers/{name}", self._get_provider)
        app.router.add_put("/_sim/providers/{name}", self._put_provider)
        app.router.add_post("/_sim/counts/reset", self._reset_counts)
        app.router.add_route("*", "/{provider}/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://{self._host}:{port}"
        _log.info("simulator.started", base_url=self.base_url, providers=sorted(self._providers))
        if self._scenario is not None:
            self._scenario_task = asyncio.create_task(
                run_scenario(self._scenario, self._apply_step), name="simulator-scenario"
            )

    async def stop(self) -> None:
        """Stop: end the scenario, release hung and dripping handlers, close the server."""
        self._closing.set()
        if self._scenario_task is not None:
            self._scenario_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scenario_task
            self._scenario_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            _log.info("simulator.stopped", requests=self.counts())

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- Python control --------------------------------------------------------------------

    @property
    def providers(self) -> Mapping[str, SimProvider]:
        """The simulated providers by name (live objects: read, do not mutate)."""
        return MappingProxyType(self._providers)

    def provider(self, name: str) -> SimProvider:
        """One provider's state.

        Raises:
            KeyError: No such provider.
        """
        return self._providers[name]

    def url(self, name: str) -> str:
        """The base URL to configure for provider `name` (its kind's convention: `openai` bases
        end in `/v1`, the others are the host root)."""
        p = self._providers[name]
        return f"{self.base_url}/{name}{SIMS[p.kind].url_suffix}"

    def set_behaviour(
        self,
        name: str,
        behaviour: Behaviour | str | None = None,
        *,
        source: str = "api",
        **changes: Any,
    ) -> SimProvider:
        """Switch a provider's behaviour and/or change its state.

        Args:
            name: Provider name.
            behaviour: The new behaviour (a `Behaviour` or its value); None keeps the current one.
            source: Who asked (for the log line).
            **changes: Fields of `SETTABLE`, e.g. `missing_models=["gpt-4o"]`, `retry_after=3`.

        Returns:
            The provider's state after the change.

        Raises:
            KeyError: No such provider.
            ValueError: Unknown behaviour, unknown field or a value of the wrong type.
        """
        p = self._providers[name]
        unknown = set(changes) - SETTABLE
        if unknown:
            raise ValueError(f"unknown provider fields: {', '.join(sorted(unknown))}")
        new = Behaviour(behaviour) if behaviour is not None else p.behaviour
        coerced = {k: coerce(k, v) for k, v in changes.items()}
        p.behaviour = new
        for k, v in coerced.items():
            setattr(p, k, v)
        _log.info("simulator.behaviour_set", provider=name, behaviour=str(new), source=source)
        return p

    def requests(self, name: str) -> int:
        """Requests provider `name` received since start or the last `reset_counts`."""
        return self._providers[name].requests

    def counts(self) -> dict[str, int]:
        """Requests received, per provider."""
        return {n: p.requests for n, p in self._providers.items()}

    def reset_counts(self) -> None:
        """Set every provider's request count to zero."""
        for p in self._providers.values():
            p.requests = 0

    def _apply_step(self, step: ScenarioStep) -> None:
        self.set_behaviour(step.provider, step.behaviour, source="scenario", **step.changes)

    # --- control endpoint ------------------------------------------------------------------

    async def _list_providers(self, _request: web.Request) -> web.Response:
        body = {n: {**p.summary(), "base_url": self.url(n)} for n, p in self._providers.items()}
        return web.json_response(body)

    async def _get_provider(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self._providers:
            return web.json_response({"error": f"no provider {name!r}"}, status=404)
        return web.json_response({**self._providers[name].summary(), "base_url": self.url(name)})

    async def _put_provider(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self._providers:
            return web.json_response({"error": f"no provider {name!r}"}, status=404)
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object")
            changes = dict(data)
            behaviour = changes.pop("behaviour", None)
            p = self.set_behaviour(name, behaviour, source="http", **changes)
        except (ValueError, TypeError) as exc:  # json errors are ValueErrors
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({**p.summary(), "base_url": self.url(name)})

    async def _reset_counts(self, _request: web.Request) -> web.Response:
        self.reset_counts()
        return web.json_response(self.counts())

    # --- the providers --------------------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        p = self._providers.get(request.match_info["provider"])
        if p is None:
            return web.json_response({"error": "no such simulated provider"}, status=404)
        p.requests += 1
        b = p.behaviour
        if is_chat_completion(request.method, request.match_info["tail"]):
            self.chat.count(p.name)  # a router's request, counted apart from the probes
        if b in STREAMING:
            return await self._stream(request, p, b)
        tail = request.match_info["tail"]
        content = await request.read() if request.method != "GET" else b""
        return _respond(
            answer(p, tail, request.headers, request.query, method=request.method, body=content)
        )

    async def _stream(
        self, request: web.Request, p: SimProvider, b: Behaviour
    ) -> web.StreamResponse:
        if b is Behaviour.HANG:
            await self._until_gone(request)
            return web.Response(status=204)  # nobody is left to receive it
        if b is Behaviour.RESET:
            _reset(request)
            return web.Response(status=204)
        if b is Behaviour.GARBAGE:
            return web.Response(
                status=200,
                body=b"\x89PNG\r\n<html>not json\x00\xff",
                content_type="application/json",
            )
        body = json.dumps(
            {"object": "list", "data": [{"id": m, "object": "model"} for m in p.listed]}
        ).encode()
        resp = web.StreamResponse(status=200, headers={"content-type": "application/json"})
        if b is Behaviour.TRUNCATED:
            resp.content_length = len(body) + 4096
            await resp.prepare(request)
            await resp.write(body[: max(1, len(body) // 2)])
            if request.transport is not None:
                request.transport.close()  # FIN after the buffered part: the promise is broken
            return resp
        if b is Behaviour.SLOW_DRIP:
            resp.content_length = len(body)
            with contextlib.suppress(ConnectionError):
                await resp.prepare(request)
                for i in range(len(body)):
                    if await self._gone_after(request, p.drip_interval):
                        break
                    await resp.write(body[i : i + 1])
            return resp
        # Behaviour.HUGE: streamed, so a 1 GiB answer costs the server nothing but the writes.
        resp.content_length = p.huge_bytes
        chunk = b" " * 65536
        with contextlib.suppress(ConnectionError):
            await resp.prepare(request)
            left = p.huge_bytes
            while left > 0 and not self._closing.is_set():
                n = min(left, len(chunk))
                await resp.write(chunk[:n])
                left -= n
        return resp

    async def _until_gone(self, request: web.Request) -> None:
        while not await self._gone_after(request, 0.05):
            pass

    async def _gone_after(self, request: web.Request, seconds: float) -> bool:
        """Wait `seconds`; True if the client left or the simulator is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)
        transport = request.transport
        return self._closing.is_set() or transport is None or transport.is_closing()


def _reset(request: web.Request) -> None:
    """Close the connection with a TCP RST: SO_LINGER on with a zero timeout, then close."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
