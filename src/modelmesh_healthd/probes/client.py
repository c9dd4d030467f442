"""The one factory for the shared probe client, and the phase-timing hooks of its transports.

`build_client` makes the single `httpx.AsyncClient` every probe shares (connection reuse, limits
sized by the concurrency setting, TLS verified by default, bounded redirects). The transport under
it is a choice: `httptools` (the default: our keep-alive HTTP/1.1 in `probes/transport.py`, the
cheapest per probe), `aiohttp` (via httpx-aiohttp) or `httpx` (httpx's own, httpcore); a fleet
probed at 1,000/s needs one of the first two (docs/benchmarks.md).

Phase timings reach the running probe through a context variable (`phases.CURRENT_CLOCK`): our
transport's connect hook, the aiohttp connector and httpcore's `trace` extension all run inside
the task that sent the request, so they find that probe's `PhaseClock` without any per-request
plumbing. The aiohttp transport (`aiohttp_client.py`) is imported only by a client that uses it.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Literal

import httpx

import modelmesh_healthd
from modelmesh_healthd.probes.cookieless import CookielessClient
from modelmesh_healthd.probes.phases import CURRENT_CLOCK, PhaseClock
from modelmesh_healthd.probes.transport import ProbeTransport

__all__ = [
    "CURRENT_CLOCK",
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


def _default_context(options: ClientOptions) -> bool:
    """Whether `_ssl_context` builds the default context (certifi's CA bundle, verified),
    which reads nothing the configuration or the environment names, so cannot fail."""
    return options.verify and options.ca_bundle is None and not options.trust_env


def _ssl_context(options: ClientOptions) -> ssl.SSLContext:
    if not options.verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if options.ca_bundle is not None:
        return ssl.create_default_context(cafile=options.ca_bundle)
    return httpx.create_ssl_context(verify=True, trust_env=options.trust_env)


def _clock_connect(connect: float, tls: float | None) -> None:
    clock = CURRENT_CLOCK.get()
    if clock is not None:
        clock.connect = connect
        clock.tls = tls


class _HttptoolsProbeClient(CookielessClient):
    """Our keep-alive transport (`probes/transport.py`) under httpx's client.

    A proxy (from the environment, with `trust_env`) goes through the aiohttp transport, which
    speaks to proxies; probes are direct otherwise.
    """

    def __init__(
        self,
        *,
        probe_ssl: Callable[[], ssl.SSLContext],
        traced: bool,
        backstop: float,
        **kwargs: Any,
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
        from modelmesh_healthd.probes.aiohttp_client import aiohttp_transport

        return aiohttp_transport(self._probe_ssl(), self._probe_limits, self._probe_traced, proxy)


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
    if isinstance(client, CookielessClient):
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
    common: dict[str, Any] = {
        "headers": {"user-agent": o.user_agent},
        "timeout": httpx.Timeout(o.backstop_timeout),
        "max_redirects": o.max_redirects,
        "follow_redirects": False,
        "trust_env": o.trust_env,
        "limits": limits,
    }
    if o.transport == "httptools":
        # Our transport asks for the context at its first https origin: building the default
        # one reads the whole CA bundle, a good part of a daemon's start-up, which a fleet on
        # http (a lab's, the tests') never needs. One built from the options or the
        # environment (a CA file that may be missing or bad) is built now, so that a bad
        # one stops the start as before, instead of failing every https probe.
        context = functools.cache(functools.partial(_ssl_context, o))
        if not _default_context(o):
            context()
        return _HttptoolsProbeClient(
            probe_ssl=context, traced=o.phase_timings, backstop=o.backstop_timeout, **common
        )
    ctx = _ssl_context(o)
    common["verify"] = ctx
    if o.transport == "aiohttp":
        from modelmesh_healthd.probes.aiohttp_client import AiohttpProbeClient

        return AiohttpProbeClient(probe_ssl=ctx, traced=o.phase_timings, **common)
    if o.transport == "httpx":
        hooks = {"request": [_add_trace]} if o.phase_timings else {}
        return CookielessClient(event_hooks=hooks, **common)
    raise ValueError(f"unknown transport {o.transport!r}; choose one of {', '.join(TRANSPORTS)}")
