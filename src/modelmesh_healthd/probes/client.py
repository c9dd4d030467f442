"""The one factory for the shared probe client, and the phase-timing hooks of its transports.

`build_client` makes the single `httpx.AsyncClient` every probe shares (connection reuse, limits
sized by the concurrency setting, TLS verified by default, bounded redirects). The transport under
it is a choice: `httptools` (the default: our keep-alive HTTP/1.1 in `probes/transport.py`, the
cheapest per probe), `aiohttp` (via httpx-aiohttp) or `httpx` (httpx's own, httpcore); a fleet
probed at 1,000/s needs one of the first two (docs/benchmarks.md).

Phase timings reach the running probe through a context variable: our transport's connect hook,
our aiohttp connector and httpcore's `trace` extension all run inside the task that sent the
request, so they find that probe's `PhaseClock` without any per-request plumbing.
"""

from __future__ import annotations

import asyncio
import functools
import http.cookiejar
import ssl
import weakref
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Literal

import aiohttp
import httpx
from aiohttp.connector import Connection
from httpx_aiohttp import AiohttpTransport, HttpxAiohttpClient
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions

import modelmesh_healthd
from modelmesh_healthd.probes.transport import ProbeTransport

__all__ = [
    "TRANSPORTS",
    "ClientOptions",
    "PhaseClock",
    "Transport",
    "build_client",
    "probe_request",
]

Transport = Literal["httptools", "aiohttp", "httpx"]
TRANSPORTS: tuple[Transport, ...] = ("httptools", "aiohttp", "httpx")

USER_AGENT = f"modelmesh-healthd/{modelmesh_healthd.__version__}"


class PhaseClock:
    """Connection-phase timestamps of the probe running in the current task."""

    __slots__ = ("connect", "connect_started", "tls", "tls_started")

    def __init__(self) -> None:
        self.connect_started = 0.0
        self.connect: float | None = None
        self.tls_started = 0.0
        self.tls: float | None = None


CURRENT_CLOCK: ContextVar[PhaseClock | None] = ContextVar("modelmesh_probe_clock", default=None)


# --- aiohttp: a connector that times the connections it opens --------------------------
# aiohttp's TraceConfig would do this too, but with any trace config installed aiohttp builds
# trace objects and sends seven signals on *every* request (about 20 µs of CPU, 5% of a probe);
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


# --- httpcore: the `trace` request extension ----------------------------------------


async def _httpcore_trace(event: str, _info: dict[str, Any]) -> None:
    # Called for every httpcore step; only four events matter, so test the cheap suffix first.
    if event[-1] != "d" and event[-1] != "e":
        return
    clock = CURRENT_CLOCK.get()
    if clock is None:
        return
    if event == "connection.connect_tcp.started":
        clock.connect_started = perf_counter()
    elif event == "connection.connect_tcp.complete":
        clock.connect = perf_counter() - clock.connect_started
    elif event == "connection.start_tls.started":
        clock.tls_started = perf_counter()
    elif event == "connection.start_tls.complete":
        clock.tls = perf_counter() - clock.tls_started


async def _add_trace(request: httpx.Request) -> None:
    request.extensions["trace"] = _httpcore_trace


# --- the factory -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Everything `build_client` can be told (the config layer's `http` section).

    Attributes:
        transport: `httptools` (default), `aiohttp` or `httpx`.
        concurrency: Probes in flight at once; sizes the connection pool.
        verify: Verify TLS certificates (default). False is for lab setups only.
        ca_bundle: Path of a PEM CA bundle to trust instead of the default store.
        trust_env: Read proxies (HTTP(S)_PROXY, NO_PROXY) and SSL_CERT_FILE from the environment.
        max_redirects: The most redirects one request may follow (probes that follow any).
        keepalive_expiry: Seconds an idle pooled connection is kept.
        backstop_timeout: The transport's safety net, never the probe's deadline: every probe
            runs under its own whole-probe deadline, which is shorter. On the httptools and
            aiohttp transports it bounds the whole request; on httpx's own, each connect, read
            and pool wait.
        user_agent: The User-Agent header.
        phase_timings: Time connection set-up (connect, TLS). Off drops httpcore's per-request
            trace callbacks (httpx transport) and the connect timing (httptools, aiohttp);
            `ttfb` and `transfer` are measured either way.
    """

    transport: Transport = "httptools"
    concurrency: int = 64
    verify: bool = True
    ca_bundle: str | None = None
    trust_env: bool = True
    max_redirects: int = 5
    keepalive_expiry: float = 30.0
    backstop_timeout: float = 120.0
    user_agent: str = USER_AGENT
    phase_timings: bool = True


def _ssl_context(options: ClientOptions) -> ssl.SSLContext:
    if not options.verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if options.ca_bundle is not None:
        return ssl.create_default_context(cafile=options.ca_bundle)
    return httpx.create_ssl_context(verify=True, trust_env=options.trust_env)


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps nothing and reads no response's cookies.

    Probes share one client across providers (and keys): a cookie one answer set must not ride
    along with the next probe, the way the aiohttp session's `DummyCookieJar` keeps none either.
    httpx would also build two urllib compatibility objects per response to look for
    `Set-Cookie`, which showed in the daemon's profile (docs/benchmarks.md).
    """

    def __init__(self) -> None:
        super().__init__(http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy([])))

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


@functools.lru_cache(maxsize=1024)
def _parsed_url(url: str) -> httpx.URL:
    """`httpx.URL(url)`, parsed once for the probe URLs in use (an `httpx.URL` is immutable).

    Parsing is most of what building a request costs (docs/benchmarks.md). The cache is
    bounded, so a fleet with more distinct probe URLs than it holds costs a little memory
    and parses as before.
    """
    return httpx.URL(url)


class _CookielessClient(httpx.AsyncClient):
    """`httpx.AsyncClient` whose `cookies` is always a `_NoCookies` (setting it is ignored)."""

    def probe_request(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes | None
    ) -> httpx.Request:
        """`build_request` for what a probe sends: an absolute URL, headers, maybe a body.

        The same request `build_request` makes for these clients (no base URL, query
        parameters or cookies to merge), without its general merging: it copies the client's
        headers once instead of normalising them twice, and turns the timeout into its
        extension once per client: `build_request` showed in the daemon's profile
        (docs/benchmarks.md).
        """
        merged = httpx.Headers(self.headers)  # a list copy: the client's are normalised
        merged.update(headers)
        timeout = self._probe_timeout
        if timeout is None or timeout[0] is not self.timeout:
            timeout = self._probe_timeout = (self.timeout, self.timeout.as_dict())
        return httpx.Request(
            method,
            _parsed_url(url),
            headers=merged,
            content=content,
            extensions={"timeout": timeout[1]},
        )

    _probe_timeout: tuple[httpx.Timeout, dict[str, float | None]] | None = None

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        """Ignored on purpose: httpx's `__init__` assigns the client's cookies; none are kept."""


_NO_COOKIES = _NoCookies()


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


def _aiohttp_transport(
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


class _AiohttpProbeClient(_CookielessClient, HttpxAiohttpClient):
    """httpx-aiohttp's client (which keeps httpx's env-proxy handling), with our session."""

    def __init__(self, *, probe_ssl: ssl.SSLContext, traced: bool, **kwargs: Any) -> None:
        # httpx calls _init_transport from its __init__, so these must be set first.
        self._probe_ssl = probe_ssl
        self._probe_traced = traced
        self._probe_limits: httpx.Limits = kwargs["limits"]
        super().__init__(**kwargs)

    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
        return _aiohttp_transport(self._probe_ssl, self._probe_limits, self._probe_traced, None)

    def _init_proxy_transport(
        self, proxy: httpx.Proxy, *args: Any, **kwargs: Any
    ) -> httpx.AsyncBaseTransport:
        return _aiohttp_transport(self._probe_ssl, self._probe_limits, self._probe_traced, proxy)


def _clock_connect(connect: float, tls: float | None) -> None:
    clock = CURRENT_CLOCK.get()
    if clock is not None:
        clock.connect = connect
        clock.tls = tls


class _HttptoolsProbeClient(_CookielessClient):
    """Our keep-alive transport (`probes/transport.py`) under httpx's client.

    A proxy (from the environment, with `trust_env`) goes through the aiohttp transport, which
    speaks to proxies; probes are direct otherwise.
    """

    def __init__(
        self, *, probe_ssl: ssl.SSLContext, traced: bool, backstop: float, **kwargs: Any
    ) -> None:
        # httpx calls _init_transport from its __init__, so these must be set first.
        self._probe_ssl = probe_ssl
        self._probe_traced = traced
        self._probe_backstop = backstop
        self._probe_limits: httpx.Limits = kwargs["limits"]
        super().__init__(**kwargs)

    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
        limits = self._probe_limits
        return ProbeTransport(
            ssl_context=self._probe_ssl,
            limit=limits.max_connections or 1,
            keepalive=limits.max_keepalive_connections or 0,
            keepalive_expiry=limits.keepalive_expiry or 0.0,
            backstop_timeout=self._probe_backstop,
            on_connect=_clock_connect if self._probe_traced else None,
        )

    def _init_proxy_transport(
        self, proxy: httpx.Proxy, *args: Any, **kwargs: Any
    ) -> httpx.AsyncBaseTransport:
        return _aiohttp_transport(self._probe_ssl, self._probe_limits, self._probe_traced, proxy)


def probe_request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    headers: Mapping[str, str],
    content: bytes | None = None,
) -> httpx.Request:
    """The request a probe sends through `client`: `build_client`'s clients build it cheaply.

    Any other `httpx.AsyncClient` (a caller's own, with a base URL or cookies) gets
    `client.build_request`, so its configuration is merged as httpx always does.
    """
    if isinstance(client, _CookielessClient):
        return client.probe_request(method, url, headers, content)
    return client.build_request(method, url, headers=headers, content=content)


def build_client(options: ClientOptions | None = None) -> httpx.AsyncClient:
    """Build the one shared client for every probe.

    Use it as `async with build_client(...) as client:` (or call `aclose()`), and build it once:
    per-probe clients would throw connection reuse away.

    Args:
        options: Transport, pool size, TLS and proxy settings; defaults when None.

    Returns:
        An `httpx.AsyncClient` whose phase timings feed `ProbeResult.timings`.
    """
    o = options or ClientOptions()
    if o.concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {o.concurrency}")
    limits = httpx.Limits(
        max_connections=o.concurrency,
        max_keepalive_connections=o.concurrency,
        keepalive_expiry=o.keepalive_expiry,
    )
    ctx = _ssl_context(o)
    common: dict[str, Any] = {
        "headers": {"user-agent": o.user_agent},
        "timeout": httpx.Timeout(o.backstop_timeout),
        "max_redirects": o.max_redirects,
        "follow_redirects": False,
        "trust_env": o.trust_env,
        "verify": ctx,
        "limits": limits,
    }
    if o.transport == "httptools":
        return _HttptoolsProbeClient(
            probe_ssl=ctx, traced=o.phase_timings, backstop=o.backstop_timeout, **common
        )
    if o.transport == "aiohttp":
        return _AiohttpProbeClient(probe_ssl=ctx, traced=o.phase_timings, **common)
    if o.transport == "httpx":
        hooks = {"request": [_add_trace]} if o.phase_timings else {}
        return _CookielessClient(event_hooks=hooks, **common)
    raise ValueError(f"unknown transport {o.transport!r}; choose one of {', '.join(TRANSPORTS)}")
