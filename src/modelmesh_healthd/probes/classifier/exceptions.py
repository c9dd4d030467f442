"""Classifying a network failure: what the request raised, read as an outcome (pure).

Each transport's parser has its own error for an answer that is not HTTP (aiohttp's, h11's under
httpcore, httptools' under ours). The httpx-aiohttp transport maps aiohttp's errors onto httpx's
loosely (a server closing the connection arrives as `httpx.ConnectTimeout`), so the whole cause
chain is read, most specific facts first.
"""

from __future__ import annotations

import ssl

import aiohttp
import h11
import httptools
import httpx
from aiohttp.http_exceptions import HttpProcessingError

from modelmesh_healthd.state.outcome import Outcome

__all__ = ["classify_exception"]


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
    for e in chain:
        if isinstance(e, ssl.SSLError | aiohttp.ClientSSLError):
            return Outcome.CONNECT_ERROR, f"TLS: {what}"
    for e in chain:
        if isinstance(e, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
            return Outcome.CONNECT_ERROR, f"connection reset: {what}"
        if isinstance(e, ConnectionRefusedError):
            return Outcome.CONNECT_ERROR, f"connection refused: {what}"
        if isinstance(e, aiohttp.ClientConnectorError | httpx.ConnectError):
            return Outcome.CONNECT_ERROR, f"cannot connect: {what}"
    for e in chain:
        if isinstance(e, HttpProcessingError | h11.RemoteProtocolError | httptools.HttpParserError):
            return Outcome.PROTOCOL_ERROR, f"not HTTP: {what}"
    for e in chain:
        if isinstance(e, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
            if got_response:
                return Outcome.PROTOCOL_ERROR, f"body cut short: {what}"
            return Outcome.CONNECT_ERROR, f"closed without an answer: {what}"
        if isinstance(e, TimeoutError | aiohttp.ServerTimeoutError):
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
