"""The `aiohttp` transport (`http.transport: aiohttp`): httpx's client over httpx-aiohttp.

Imported only by a client that uses it (that transport, or a proxy from the environment under
the httptools one): importing aiohttp builds two TLS contexts and reads the CA bundle, a large
part of a daemon's start-up on our own transport (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from time import perf_counter
from typing import Any

import aiohttp
import httpx
from aiohttp.connector import Connection
from httpx_aiohttp import AiohttpTransport, HttpxAiohttpClient
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions

from modelmesh_healthd.probes.cookieless import CookielessClient
from modelmesh_healthd.probes.phases import CURRENT_CLOCK

__all__ = ["AiohttpProbeClient", "aiohttp_transport"]


# --- a connector that times the connections it opens ----------------------------------
# aiohttp's TraceConfig would do this too, but with any trace config installed aiohttp builds
# trace objects and sends seven signals on *every* request (docs/benchmarks.md has the cost);
# timing `connect` here costs nothing on a reused connection.


class _TimedConnector(aiohttp.TCPConnector):
    """A TCPConnector that reports how long opening a new connection took."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._seen: weakref.WeakSet[asyncio.BaseProtocol] = weakref.WeakSet()

    async def connect(self, *args: Any, **kwargs: Any) -> Connection:
        clock = CURRENT_CLOCK.get()
        started = perf_counter()
        conn = await super().connect(*args, **kwargs)
        protocol = conn.protocol
        if protocol is not None and protocol not in self._seen:
            self._seen.add(protocol)
            if clock is not None:
                # A connection we have not handed out before was opened for this request
                # (the time includes any wait for a free slot in a full pool).
                clock.connect = perf_counter() - started
        return conn


class _ProbeTransport(AiohttpTransport):
    """httpx-aiohttp's transport with cheaper conversions per request.

    - Headers go to aiohttp as httpx's raw pairs, decoded: given the `httpx.Headers` itself,
      aiohttp looks each name up in it again (and httpx joins repeated values to answer).
    - One `aiohttp.ClientTimeout` per distinct httpx timeout, not one per request, and it bounds
      the whole request (`total`) and the connect: httpx's per-read and pool timeouts became
      aiohttp timers armed for every request and re-armed on every read, a safety net no probe
      reaches (each runs under its own, shorter deadline).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        if self.proxy is not None or request.extensions.get("sni_hostname") is not None:
            return await super().handle_async_request(request)  # rare: the general path
        timeout = request.extensions.get("timeout", _NO_TIMEOUT)
        key = (timeout.get("connect"), timeout.get("read"))
        client_timeout = self._timeouts.get(key)
        if client_timeout is None:
            client_timeout = self._timeouts[key] = aiohttp.ClientTimeout(
                total=key[1], sock_connect=key[0]
            )
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        with map_aiohttp_exceptions():
            data: bytes | httpx.AsyncByteStream | None
            try:
                data = request.content or None
            except httpx.RequestNotRead:
                if not isinstance(request.stream, httpx.AsyncByteStream):
                    raise
                data = request.stream
                # aiohttp frames a streamed body itself
                headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
            response = await self.client.request(
                request.method,
                str(request.url),
                headers=headers,
                data=data,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=client_timeout,
            ).__aenter__()
        extensions = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=AiohttpResponseStream(response),
            request=request,
            extensions=extensions,
        )


_NO_TIMEOUT: dict[str, float | None] = {}


def aiohttp_transport(
    ctx: ssl.SSLContext, limits: httpx.Limits, traced: bool, proxy: httpx.Proxy | None
) -> AiohttpTransport:
    def session() -> aiohttp.ClientSession:
        # Called by the transport on first use, so the session is born inside the running
        # event loop (aiohttp requires that), not when the daemon builds its client.
        connector = (_TimedConnector if traced else aiohttp.TCPConnector)(
            limit=limits.max_connections or 0,
            keepalive_timeout=limits.keepalive_expiry,
            ssl=ctx,
        )
        return aiohttp.ClientSession(
            connector=connector,
            # Probes share one session across all providers: keep no cookies between them.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,  # httpx decodes; aiohttp must hand over raw bytes
        )

    return _ProbeTransport(verify=ctx, limits=limits, proxy=proxy, client=session)


class AiohttpProbeClient(CookielessClient, HttpxAiohttpClient):
    """httpx-aiohttp's client (which keeps httpx's env-proxy handling), with our session."""

    def __init__(self, *, probe_ssl: ssl.SSLContext, traced: bool, **kwargs: Any) -> None:
        # httpx calls _init_transport from its __init__, so these must be set first.
        self._probe_ssl = probe_ssl
        self._probe_traced = traced
        self._probe_limits: httpx.Limits = kwargs["limits"]
        super().__init__(**kwargs)

    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
        return aiohttp_transport(self._probe_ssl, self._probe_limits, self._probe_traced, None)

    def _init_proxy_transport(
        self, proxy: httpx.Proxy, *args: Any, **kwargs: Any
    ) -> httpx.AsyncBaseTransport:
        return aiohttp_transport(self._probe_ssl, self._probe_limits, self._probe_traced, proxy)
