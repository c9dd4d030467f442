"""The probes' own transport over real sockets: connections kept, replaced, bounded and given
back; answers framed every way HTTP/1.1 frames them; and TLS, whose failures every transport
classifies alike."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelmesh_healthd.probes import (
    TRANSPORTS,
    ClientOptions,
    ProbeTarget,
    Transport,
    build_client,
    probe,
)
from modelmesh_healthd.probes.transport import ProbeTransport, _Connection
from modelmesh_healthd.state import Outcome

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@asynccontextmanager
async def raw_server(handle: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    """A server on 127.0.0.1 that runs `handle` per connection; yields its base URL.

    A connection ends when `handle` returns or its peer goes; the rest end with the server.
    """
    running: set[asyncio.Task[None]] = set()

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        running.add(task)
        try:
            await handle(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass  # the client went away
        except asyncio.CancelledError:
            pass  # the server stops: end this connection quietly
        finally:
            running.discard(task)
            writer.close()

    server = await asyncio.start_server(run, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.close()
        for task in list(running):
            task.cancel()
        await asyncio.sleep(0.01)  # let them close their sockets
        await server.wait_closed()


def ours(**options: object) -> httpx.AsyncClient:
    return build_client(ClientOptions(transport="httptools", trust_env=False, **options))  # type: ignore[arg-type]


async def test_a_kept_connection_is_reused_for_the_next_request() -> None:
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(OK)

    async with raw_server(handle) as base, ours() as client:
        for _ in range(3):
            assert (await client.get(f"{base}/x")).content == b"ok"
    assert connections == 1


async def test_a_kept_connection_the_server_closed_is_replaced_without_an_error() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)  # keep-alive by HTTP/1.1's default, then closed all the same
        await writer.drain()
        writer.close()

    async with raw_server(handle) as base, ours() as client:
        for _ in range(3):
            assert (await client.get(f"{base}/x")).content == b"ok"
            await asyncio.sleep(0.05)


async def test_a_kept_connection_closed_as_it_is_reused_is_asked_again_on_a_new_one() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await reader.readuntil(b"\r\n\r\n")  # the second request on this connection: no answer
        writer.close()

    async with raw_server(handle) as base, ours() as client:
        for _ in range(3):
            assert (await client.get(f"{base}/x")).content == b"ok"


async def test_no_more_connections_than_the_concurrency_are_in_use_at_once() -> None:
    open_now = most = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_now, most
        open_now += 1
        most = max(most, open_now)
        try:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(0.05)
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        finally:
            open_now -= 1
            writer.close()

    async with raw_server(handle) as base, ours(concurrency=2) as client:
        answers = await asyncio.gather(*(client.get(f"{base}/{i}") for i in range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert most == 2


async def test_a_request_cut_off_by_its_deadline_gives_its_connection_back() -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(5)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()

    async with raw_server(hang) as slow, raw_server(answer) as fast, ours(concurrency=1) as c:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await c.get(f"{slow}/x")
        async with asyncio.timeout(2):
            assert (await c.get(f"{fast}/x")).content == b"ok"


ANSWERS = {
    "delimited by the close": (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello world", True),
    "chunked": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        False,
    ),
    "after an interim 100 Continue": (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
        False,
    ),
}


@pytest.mark.parametrize("answer", list(ANSWERS), ids=list(ANSWERS))
async def test_an_answer_framed_any_way_http_allows_arrives_whole(answer: str) -> None:
    raw, close = ANSWERS[answer]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(raw)
            await writer.drain()
            if close:
                writer.close()
                return

    async with raw_server(handle) as base, ours() as client:
        for _ in range(2):
            response = await client.get(f"{base}/x")
            assert (response.status_code, response.content) == (200, b"hello world")


async def test_a_head_answer_ends_at_its_headers_and_the_next_request_is_answered() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while head := await reader.readuntil(b"\r\n\r\n"):
            if head.startswith(b"HEAD "):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            else:
                writer.write(OK)

    async with raw_server(handle) as base, ours() as client:
        async with asyncio.timeout(2):
            head = await client.head(f"{base}/x")
            assert (head.status_code, head.headers["content-length"], head.content) == (
                200,
                "100",
                b"",
            )
            assert (await client.get(f"{base}/x")).content == b"ok"


async def test_a_body_larger_than_the_read_buffer_arrives_whole() -> None:
    body = bytes(range(256)) * 8192  # 2 MiB: reading pauses and resumes on the way

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()

    got = b""
    async with (
        raw_server(handle) as base,
        ours() as client,
        client.stream("GET", f"{base}/x") as response,
    ):
        async for chunk in response.aiter_raw():
            got += chunk
            await asyncio.sleep(0)  # a slow reader
    assert got == body


# --- TLS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl): (cert, key)."""
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    command = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
    ]
    subprocess.run(
        [*command, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@asynccontextmanager
async def tls_models_server(certificate: tuple[Path, Path]) -> AsyncIterator[str]:
    body = b'{"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]}'

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*certificate)
    async with raw_server(handle, tls=ctx) as base:
        yield base


def tls_target(base: str) -> ProbeTarget:
    return ProbeTarget(name="tls", kind="openai", base_url=f"{base}/v1", timeout=2.0)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_untrusted_certificate_is_a_tls_connect_error_on_every_transport(
    certificate: tuple[Path, Path], transport: Transport
) -> None:
    options = ClientOptions(transport=transport, trust_env=False)
    async with tls_models_server(certificate) as base, build_client(options) as client:
        result = await probe(client, tls_target(base))
    assert result.outcome is Outcome.CONNECT_ERROR
    assert result.detail is not None
    assert result.detail.startswith("TLS: ")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tls_to_a_server_that_speaks_plain_http_is_a_tls_connect_error(
    transport: Transport,
) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    options = ClientOptions(transport=transport, trust_env=False)
    async with raw_server(handle) as plain, build_client(options) as client:
        result = await probe(client, tls_target(plain.replace("http://", "https://")))
    assert result.outcome is Outcome.CONNECT_ERROR
    assert result.detail is not None
    assert result.detail.startswith("TLS: ")


async def test_the_default_tls_context_is_built_at_the_first_https_origin_once(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building it reads the whole CA bundle: a daemon probing http origins never needs it, and
    # it is read on a worker thread, once for the probes that ask together.
    built: list[ssl.SSLContext] = []
    threads: list[int] = []
    create = httpx.create_ssl_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        threads.append(threading.get_ident())
        built.append(create(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(httpx, "create_ssl_context", counted)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{"data": [], "x"}')

    async with (
        raw_server(answer) as plain,
        tls_models_server(certificate) as tls,
        build_client(ClientOptions(trust_env=False)) as client,
    ):
        assert (await probe(client, tls_target(plain))).outcome is Outcome.OK
        assert built == []
        untrusted = await asyncio.gather(*(probe(client, tls_target(tls)) for _ in range(3)))
        untrusted.append(await probe(client, tls_target(tls)))
    assert [r.outcome for r in untrusted] == [Outcome.CONNECT_ERROR] * 4
    assert all((r.detail or "").startswith("TLS: ") for r in untrusted)  # verified as before
    assert len(built) == 1
    assert threads != [threading.get_ident()]  # not on the event loop's thread


def test_a_tls_context_from_a_named_ca_file_is_built_with_the_client(tmp_path: Path) -> None:
    # A missing or bad file stops a daemon's start, as it did, not every https probe later.
    with pytest.raises(FileNotFoundError):
        build_client(ClientOptions(trust_env=False, ca_bundle=str(tmp_path / "missing.pem")))


async def test_a_trusted_certificate_probes_ok_and_the_handshake_is_timed_apart(
    certificate: tuple[Path, Path],
) -> None:
    options = ClientOptions(transport="httptools", trust_env=False, ca_bundle=str(certificate[0]))
    async with tls_models_server(certificate) as base, build_client(options) as client:
        first = await probe(client, tls_target(base))
        second = await probe(client, tls_target(base))
    assert first.outcome is Outcome.OK, first.detail
    assert first.timings.connect is not None
    assert first.timings.tls is not None
    assert second.outcome is Outcome.OK
    assert (second.timings.connect, second.timings.tls) == (None, None)  # reused


def test_the_transport_works_alike_on_uvloop(certificate: tuple[Path, Path]) -> None:
    # `run` uses uvloop by default (daemon.event_loop: auto); its transports are its own.
    import uvloop

    async def scenario() -> list[tuple[Outcome, bool]]:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{"data": [], "x"}')

        trusting = ClientOptions(trust_env=False, ca_bundle=str(certificate[0]))
        async with (
            raw_server(answer) as plain,
            tls_models_server(certificate) as tls,
            build_client(trusting) as client,
        ):
            results = [await probe(client, tls_target(base)) for base in (plain, tls, tls)]
            results.append(await probe(client, tls_target("http://127.0.0.1:9")))
        return [(r.outcome, r.timings.tls is not None) for r in results]

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(scenario()) == [
            (Outcome.OK, False),
            (Outcome.OK, True),  # a new TLS connection, its handshake timed
            (Outcome.OK, False),  # reused
            (Outcome.CONNECT_ERROR, False),  # nobody listens on port 9
        ]


class _StoppedLoop:
    """Just what the pool's idle sweep reads of its loop: a clock moved by hand, timers noted."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[float] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> _StoppedLoop:
        self.timers.append(delay)
        return self  # the pool may cancel it

    def cancel(self) -> None:
        """Nothing runs by itself here: the test calls what was scheduled."""


def test_an_idle_connection_is_closed_when_its_expiry_passes_not_a_sweep_later() -> None:
    pool = ProbeTransport(
        ssl_context=ssl.create_default_context(),
        limit=4,
        keepalive=4,
        keepalive_expiry=30.0,
        backstop_timeout=None,
    )
    loop = _StoppedLoop()
    pool.loop = loop  # type: ignore[assignment]
    origin = ("http", "127.0.0.1", 80)
    first, second = _Connection(pool, origin), _Connection(pool, origin)
    pool._release(first, True)  # idle from 0 s
    loop.now = 20.0
    pool._release(second, True)  # idle from 20 s
    assert loop.timers == [30.0]
    loop.now = 30.0
    pool._sweep_idle()
    assert first.closed
    assert not second.closed
    assert loop.timers[-1] == pytest.approx(20.0)  # when the second expires, at 50 s
    loop.now = 50.0
    pool._sweep_idle()
    assert second.closed
    assert len(loop.timers) == 2  # nothing idle is left to sweep
