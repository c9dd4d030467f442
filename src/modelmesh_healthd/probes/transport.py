"""An httpx transport for probes: keep-alive HTTP/1.1 on an asyncio Protocol, parsed by llhttp.

Probes speak httpx's API; under it, this transport does only what a probe's exchange needs: one
request per connection at a time, connections kept per origin and reused, TLS through asyncio's
`start_tls` (so connect and TLS are timed apart), and the response parsed by httptools (the
Node.js parser llhttp, as uvicorn uses it). A general-purpose client (aiohttp, httpcore) pays for
what probes never use on every request: request and response objects of its own, trace and
cookie hooks, stream readers, per-read timers; that was most of the daemon's CPU per probe
(docs/benchmarks.md).

Failures reach the caller as httpx's exceptions with the cause chained, the way the classifier
reads them: a refused or reset connection and a TLS error keep the `OSError` / `ssl.SSLError`
underneath, a parser error keeps httptools' `HttpParserError`, and a peer that closes early is a
`RemoteProtocolError` (before the answer or in its body; the caller knows which).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from time import perf_counter
from typing import cast

import httptools
import httpx

__all__ = ["ProbeTransport"]

_Origin = tuple[str, str, int]

_PAUSE_ABOVE = 256 * 1024
"""Stop reading a connection while this much of its body waits for the caller (flow control)."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: feeds what arrives to the parser, hands the answer over."""

    # Slotted, and the body's chunks in a plain list: the pool keeps up to the concurrency of
    # these, in use or idle, for the daemon's life (an empty deque alone is several times the
    # size of an empty list; docs/benchmarks.md).
    __slots__ = (
        "_active",
        "_buffered",
        "_chunks",
        "_done",
        "_error",
        "_got_bytes",
        "_head_only",
        "_headers",
        "_headers_done",
        "_keep_alive",
        "_parser",
        "_paused",
        "_reason",
        "_waiter",
        "closed",
        "idle_since",
        "origin",
        "pool",
        "transport",
    )

    def __init__(self, pool: ProbeTransport, origin: _Origin) -> None:
        self.pool = pool
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._active = False  # a request is in flight (False: idle in the pool, or opening)
        self._head_only = False
        self._reason = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._headers_done = False
        self._done = False
        self._keep_alive = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._got_bytes = False

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, as create_connection promises (uvloop's are not asyncio.Transport
        # subclasses, so no isinstance check).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self._active:  # bytes nobody asked for: the connection cannot be trusted
            self.close()
            return
        self._got_bytes = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the server switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(str(exc) or type(exc).__name__), exc)

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self._active:  # idle in the pool
            self.pool._forget(self)
            return
        if self._done:
            return
        if exc is not None:
            self._fail(httpx.ReadError(str(exc) or type(exc).__name__), exc)
        elif self._headers_done and self._reads_to_close():
            self._complete()  # the body was delimited by the close (RFC 9112 6.3)
        elif self._headers_done:
            self._fail(httpx.RemoteProtocolError("the connection closed before the body ended"))
        else:
            self._fail(httpx.RemoteProtocolError("the server closed the connection unanswered"))

    # --- httptools callbacks --------------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            self._reason, self._headers = b"", []
            return
        self._headers_done = True
        if self._head_only:
            # llhttp cannot be told the request was HEAD, so it would wait for the body the
            # headers describe: there is none, and the connection is not reused.
            self._done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self._done:
            return
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _PAUSE_ABOVE and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._headers_done and not self._done:
            # Asked later, llhttp answers for the next message: not yet started, so False.
            self._keep_alive = self._parser.should_keep_alive()
            self._complete()

    # --- the exchange ---------------------------------------------------------------------

    def _reads_to_close(self) -> bool:
        for name, value in self._headers:
            lowered = name.lower()
            if lowered == b"content-length" or (
                lowered == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                return False
        return True

    def _complete(self) -> None:
        self._done = True
        self._wake()

    def _fail(self, error: BaseException, cause: BaseException | None = None) -> None:
        if cause is not None:
            error.__cause__ = cause
        if self._error is None:
            self._error = error
        self.close()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        waiter = self._waiter = self.pool.loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None
        if self._error is not None:
            raise self._error

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Write the request, wait for the answer's headers; the body streams after."""
        transport = self.transport
        assert transport is not None
        self._active = True
        self._error = None
        if self.closed:  # the server closed it after it was opened or kept
            raise httpx.RemoteProtocolError("the server closed the connection unanswered")
        self._head_only = request.method == "HEAD"
        self._reason, self._headers = b"", []
        self._headers_done = self._done = self._got_bytes = self._keep_alive = False
        url = request.url
        lines = [
            f"{request.method} ".encode("ascii"),
            url.raw_path,
            b" HTTP/1.1\r\n",
        ]
        for name, value in request.headers.raw:
            lines += (name, b": ", value, b"\r\n")
        lines.append(b"\r\n")
        try:
            content: bytes | None = request.content
        except httpx.RequestNotRead:
            content = None
        if content:
            lines.append(content)
        transport.write(b"".join(lines))
        if content is None:
            await self._stream_body(request)
        while not self._headers_done:
            await self._wait()
        return httpx.Response(
            status_code=self._parser.get_status_code(),
            headers=self._headers,
            stream=_Body(self),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": self._reason},
        )

    async def _stream_body(self, request: httpx.Request) -> None:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        transport = self.transport
        assert transport is not None
        chunked = b"chunked" in request.headers.get("transfer-encoding", "").encode()
        async for chunk in request.stream:
            if not chunk:
                continue
            if chunked:
                transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                transport.write(chunk)
            if self._error is not None:
                raise self._error
        if chunked:
            transport.write(b"0\r\n\r\n")

    async def body(self) -> AsyncIterator[bytes]:
        while True:
            while self._chunks:
                # Taken as a whole, in order: what arrives meanwhile goes to a new list.
                chunks, self._chunks = self._chunks, []
                for chunk in chunks:
                    self._buffered -= len(chunk)
                    if self._paused and self._buffered <= _PAUSE_ABOVE // 2:
                        self._paused = False
                        if self.transport is not None:
                            self.transport.resume_reading()
                    yield chunk
            if self._done:
                return
            await self._wait()

    def finish(self) -> None:
        """The caller is done with the answer: keep the connection for the next, or close it."""
        reusable = (
            self._done
            and self._error is None
            and not self._head_only
            and not self.closed
            and self._keep_alive
        )
        self._active = False
        self._chunks.clear()
        self._buffered = 0
        self._headers = []
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        self.pool._release(self, reusable)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _Body(httpx.AsyncByteStream):
    """The answer's body as httpx reads it; closing it hands the connection back."""

    __slots__ = ("_conn", "_finished")

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn
        self._finished = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._conn.body()

    async def aclose(self) -> None:
        if not self._finished:
            self._finished = True
            self._conn.finish()


class ProbeTransport(httpx.AsyncBaseTransport):
    """Keep-alive HTTP/1.1 for probes: connections per origin, at most `limit` in use at once.

    Args:
        ssl_context: Used for every https origin; or a function that returns it, called once,
            on a worker thread, at the first https origin (`client.build_client`: the default
            context reads the CA bundle, which a daemon probing http origins only never needs,
            and reading it on the event loop would hold up every other probe meanwhile).
        limit: Connections in use at once, all origins together (the probe concurrency).
        keepalive: The most idle connections kept, all origins together.
        keepalive_expiry: Seconds an idle connection is kept.
        backstop_timeout: The safety net on a whole request, answer and body; each probe runs
            under its own, shorter deadline.
        on_connect: Called with (seconds to connect, seconds of TLS or None) for each new
            connection, in the task that asked for it.
    """

    loop: asyncio.AbstractEventLoop
    """The running loop, taken at each request (the transport is built before the loop runs)."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | Callable[[], ssl.SSLContext],
        limit: int,
        keepalive: int,
        keepalive_expiry: float,
        backstop_timeout: float | None,
        on_connect: Callable[[float, float | None], None] | None = None,
    ) -> None:
        self._ssl = ssl_context
        self._ssl_built: asyncio.Future[ssl.SSLContext] | None = None
        self._slots = asyncio.Semaphore(limit)
        self._keepalive = keepalive
        self._expiry = keepalive_expiry
        self._backstop = backstop_timeout
        self._on_connect = on_connect
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._idle_count = 0
        self._sweep: asyncio.TimerHandle | None = None
        self._deadlines: dict[_Connection, float] = {}  # requests in flight -> backstop
        self._watch: asyncio.TimerHandle | None = None
        # The backstop is checked this often: a request ends at most a quarter of it (and at
        # most a second) late.
        self._every = min(backstop_timeout / 4, 1.0) if backstop_timeout else 1.0
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        self.loop = asyncio.get_running_loop()
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        origin = (scheme, url.host, url.port or (443 if scheme == "https" else 80))
        sni = request.extensions.get("sni_hostname")
        await self._slots.acquire()
        conn = self._reuse(origin)
        if conn is not None:
            try:
                return await self._send(conn, request)
            except httpx.RemoteProtocolError:
                if conn._got_bytes or request.method not in ("GET", "HEAD"):
                    raise
                # The server closed a kept connection as we reused it: once more on a new one,
                # as every client does (nothing of the request was answered).
                await self._slots.acquire()  # _send gave the slot back
        try:
            conn = await self._open(origin, request, sni)
        except BaseException:
            self._slots.release()
            raise
        return await self._send(conn, request)

    async def _send(self, conn: _Connection, request: httpx.Request) -> httpx.Response:
        """Send on `conn`, which holds a slot; on failure, close it and give the slot back."""
        if self._backstop is not None:
            self._arm(conn)
        try:
            return await conn.send(request)
        except BaseException:
            conn.close()
            conn.finish()
            raise

    # --- connections ----------------------------------------------------------------------

    def _reuse(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = self.loop.time()
        while idle:
            conn = idle.pop()
            self._idle_count -= 1
            if not conn.closed and now - conn.idle_since < self._expiry:
                return conn
            conn.close()
        return None

    async def _open(self, origin: _Origin, request: httpx.Request, sni: str | None) -> _Connection:
        scheme, host, port = origin
        timeout = request.extensions.get("timeout", {}).get("connect", self._backstop)
        loop = self.loop
        context = await self._tls_context() if scheme == "https" else None
        conn = _Connection(self, origin)
        started = perf_counter()
        tls: float | None = None
        try:
            async with asyncio.timeout(timeout):
                transport, _ = await loop.create_connection(lambda: conn, host, port)
                connected = perf_counter()
                if context is not None:
                    tls_transport = await loop.start_tls(
                        transport, conn, context, server_hostname=sni or host
                    )
                    if tls_transport is None:  # pragma: no cover - only when the loop closes
                        raise ConnectionAbortedError("TLS set-up ended with the event loop")
                    conn.transport = tls_transport
                    tls = perf_counter() - connected
        except TimeoutError as exc:
            conn.close()
            raise httpx.ConnectTimeout(f"no connection within {timeout:g} s") from exc
        except (OSError, ssl.SSLError) as exc:
            conn.close()
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            conn.close()
            raise
        if self._on_connect is not None:
            self._on_connect(connected - started, tls)
        return conn

    async def _tls_context(self) -> ssl.SSLContext:
        """The context for https origins, built the first time one asks (see `__init__`)."""
        if isinstance(self._ssl, ssl.SSLContext):
            return self._ssl
        if self._ssl_built is None:
            # One build for all the probes that ask meanwhile; shielded, so that a probe
            # cancelled while it waits does not cancel it for the others.
            self._ssl_built = self.loop.run_in_executor(None, self._ssl)
        try:
            context = await asyncio.shield(self._ssl_built)
        except Exception:
            self._ssl_built = None  # the next https probe tries again
            raise
        self._ssl = context
        return context

    def _arm(self, conn: _Connection) -> None:
        """Start the backstop of the request `conn` now carries.

        One watch for all requests in flight, not a timer per request: a timer armed for two
        minutes and cancelled a few milliseconds later, a hundred times a second, stays in the
        event loop's timer heap (which the scheduler's timers and every probe's deadline go
        through) until the loop rebuilds the heap.
        """
        assert self._backstop is not None
        self._deadlines[conn] = self.loop.time() + self._backstop
        if self._watch is None:
            self._watch = self.loop.call_later(self._every, self._check_deadlines)

    def _check_deadlines(self) -> None:
        now = self.loop.time()
        late = [conn for conn, deadline in self._deadlines.items() if deadline <= now]
        for conn in late:
            del self._deadlines[conn]
            conn._fail(httpx.ReadTimeout(f"no complete answer within {self._backstop:g} s"))
        self._watch = (
            self.loop.call_later(self._every, self._check_deadlines) if self._deadlines else None
        )

    def _release(self, conn: _Connection, reusable: bool) -> None:
        self._deadlines.pop(conn, None)
        self._slots.release()
        if reusable and not self._closed and self._idle_count < self._keepalive:
            conn.idle_since = self.loop.time()
            self._idle.setdefault(conn.origin, []).append(conn)
            self._idle_count += 1
            if self._sweep is None:
                self._sweep = self.loop.call_later(self._expiry, self._sweep_idle)
        else:
            conn.close()

    def _forget(self, conn: _Connection) -> None:
        """An idle connection closed by the peer leaves the pool."""
        idle = self._idle.get(conn.origin)
        if idle and conn in idle:
            idle.remove(conn)
            self._idle_count -= 1

    def _sweep_idle(self) -> None:
        self._sweep = None
        deadline = self.loop.time() - self._expiry
        for origin, idle in list(self._idle.items()):
            keep = []
            for c in idle:
                if c.idle_since > deadline and not c.closed:
                    keep.append(c)
                else:
                    c.close()
            self._idle_count -= len(idle) - len(keep)
            if keep:
                self._idle[origin] = keep
            else:
                del self._idle[origin]
        if self._idle_count:
            # Each origin's list is in the order its connections went idle (reuse takes from
            # its end), so its first is the next to expire. Swept then, not a whole expiry
            # later: a connection outlived its expiry by up to one more, and with reuse last in
            # first out, the ones left idle that long are those the last burst opened and
            # nothing since needed. A quarter of the expiry is the least between two sweeps.
            oldest = min(idle[0].idle_since for idle in self._idle.values())
            delay = max(oldest + self._expiry - self.loop.time(), self._expiry / 4)
            self._sweep = self.loop.call_later(delay, self._sweep_idle)

    async def aclose(self) -> None:
        self._closed = True
        for timer in (self._sweep, self._watch):
            if timer is not None:
                timer.cancel()
        self._sweep = self._watch = None
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
        self._idle_count = 0
