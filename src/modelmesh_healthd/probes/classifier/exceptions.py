"""Classifying a network failure: what the request raised, read as an outcome (pure).

Each transport's parser has its own error for an answer that is not HTTP (aiohttp's, h11's under
httpcore, httptools' under ours). The httpx-aiohttp transport maps aiohttp's errors onto httpx's
loosely (a server closing the connection arrives as `httpx.ConnectTimeout`), so the whole cause
chain is read, most specific facts first.

aiohttp's and h11's exception types are looked up only once their package is imported: an
exception of a package nobody imported cannot exist, and importing aiohttp (two TLS contexts,
the CA bundle) or h11 to recognise one was a large part of what a daemon on our own transport
spent to start (docs/benchmarks.md).
"""

from __future__ import annotations

import functools
import ssl
import sys
from typing import NamedTuple

import httptools
import httpx

from modelmesh_healthd.state.outcome import Outcome

__all__ = ["classify_exception", "network_errors"]

_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    httpx.HTTPError,
    httpx.InvalidURL,
    OSError,
    EOFError,
)


class _Foreign(NamedTuple):
    """The exception types of the transports' other packages, each fact's tuple of them."""

    tls: tuple[type[BaseException], ...] = ()
    connect: tuple[type[BaseException], ...] = ()
    not_http: tuple[type[BaseException], ...] = ()
    cut_short: tuple[type[BaseException], ...] = ()
    timeout: tuple[type[BaseException], ...] = ()
    network: tuple[type[BaseException], ...] = ()


@functools.cache
def _aiohttp_types() -> _Foreign:
    import aiohttp
    from aiohttp.http_exceptions import HttpProcessingError

    return _Foreign(
        network=(*_NETWORK_ERRORS, aiohttp.ClientError),
        tls=(aiohttp.ClientSSLError,),
        connect=(aiohttp.ClientConnectorError,),
        not_http=(HttpProcessingError,),
        cut_short=(aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError),
        timeout=(aiohttp.ServerTimeoutError,),
    )


@functools.cache
def _h11_types() -> _Foreign:
    import h11

    return _Foreign(not_http=(h11.RemoteProtocolError,))


_NONE = _Foreign()


def _foreign() -> tuple[_Foreign, _Foreign]:
    """(aiohttp's types, h11's types): empty for a package not imported (by anyone)."""
    return (
        _aiohttp_types() if "aiohttp" in sys.modules else _NONE,
        _h11_types() if "h11" in sys.modules else _NONE,
    )


def network_errors() -> tuple[type[BaseException], ...]:
    """What a request raises when the network or the server failed it (`classify_exception`
    reads them): httpx's errors, OSError, EOFError, and aiohttp's once aiohttp is imported.

    Everything else a request raises is a programming error, and propagates.
    """
    if "aiohttp" in sys.modules:
        return _aiohttp_types().network
    return _NETWORK_ERRORS


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(out) < 8 and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def classify_exception(  # noqa: PLR0912 - a precedence list of failure facts, read top down
    exc: BaseException, *, got_response: bool
) -> tuple[Outcome, str]:
    """Classify a network failure (pure: it looks only at the exception and the phase).

    The httpx-aiohttp transport maps aiohttp's errors onto httpx's loosely (a server closing the
    connection arrives as `httpx.ConnectTimeout`), so the whole cause chain is read, most
    specific facts first.

    Args:
        exc: What the request raised.
        got_response: Whether the response headers had arrived (then a cut-off is the body's
            fault, `protocol_error`; before, it is the connection's, `connect_error`).

    Returns:
        (outcome, secret-free detail naming the exception class).
    """
    chain = _chain(exc)
    root = chain[-1]
    what = f"{type(root).__name__}: {str(root)[:160]}".rstrip(": ")
    aio, h11 = _foreign()
    for e in chain:
        if isinstance(e, (ssl.SSLError, *aio.tls)):
            return Outcome.CONNECT_ERROR, f"TLS: {what}"
    for e in chain:
        if isinstance(e, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
            return Outcome.CONNECT_ERROR, f"connection reset: {what}"
        if isinstance(e, ConnectionRefusedError):
            return Outcome.CONNECT_ERROR, f"connection refused: {what}"
        if isinstance(e, (httpx.ConnectError, *aio.connect)):
            return Outcome.CONNECT_ERROR, f"cannot connect: {what}"
    for e in chain:
        if isinstance(e, (httptools.HttpParserError, *aio.not_http, *h11.not_http)):
            return Outcome.PROTOCOL_ERROR, f"not HTTP: {what}"
    for e in chain:
        if isinstance(e, aio.cut_short):
            if got_response:
                return Outcome.PROTOCOL_ERROR, f"body cut short: {what}"
            return Outcome.CONNECT_ERROR, f"closed without an answer: {what}"
        if isinstance(e, (TimeoutError, *aio.timeout)):
            return Outcome.TIMEOUT, f"timed out: {what}"
    if isinstance(exc, httpx.TimeoutException):
        return Outcome.TIMEOUT, f"timed out: {what}"
    if isinstance(exc, httpx.TooManyRedirects | httpx.UnsupportedProtocol | httpx.InvalidURL):
        return Outcome.PROTOCOL_ERROR, what
    if isinstance(exc, httpx.DecodingError):
        return Outcome.PROTOCOL_ERROR, f"undecodable body: {what}"
    if got_response:
        return Outcome.PROTOCOL_ERROR, f"body cut short: {what}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return Outcome.CONNECT_ERROR, f"closed without an answer: {what}"
    return Outcome.CONNECT_ERROR, what
