"""Both transports carry the same request and hand back the same answer, over a real socket:
headers (repeated ones too), bodies given whole or streamed, status, reason and body."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from modelmesh_healthd.probes import TRANSPORTS, ClientOptions, Transport, build_client
from service_support import serve_app

Seen = list[tuple[str, list[tuple[str, str]], bytes]]


@pytest.fixture
async def echo_server() -> AsyncIterator[tuple[str, Seen]]:
    seen: Seen = []

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        seen.append((request.method, list(request.headers.items()), body))
        if request.path == "/slow":
            await asyncio.sleep(1)
        response = web.Response(status=429, reason="Slow Down", body=b"x" * 40_000)
        response.headers.add("x-multi", "a")
        response.headers.add("x-multi", "b")
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with serve_app(app) as base:
        yield f"{base}", seen


def _sent(seen: Seen, name: str) -> list[str]:
    return [v for k, v in seen[-1][1] if k.lower() == name]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_request_and_answer_travel_unchanged(
    echo_server: tuple[str, Seen], transport: Transport
) -> None:
    base, seen = echo_server
    async with build_client(ClientOptions(transport=transport, trust_env=False)) as client:
        request = client.build_request(
            "POST",
            f"{base}/v1/x",
            headers=[("x-api-key", "k1"), ("x-tag", "one"), ("x-tag", "two")],
            content=b'{"a": 1}',
        )
        response = await client.send(request)
        assert (response.status_code, response.reason_phrase) == (429, "Slow Down")
        assert response.headers.get_list("x-multi") == ["a", "b"]
        assert response.content == b"x" * 40_000
        method, _, body = seen[-1]
        assert (method, body) == ("POST", b'{"a": 1}')
        assert _sent(seen, "x-api-key") == ["k1"]
        assert _sent(seen, "x-tag") == ["one", "two"]
        assert _sent(seen, "content-length") == ["8"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_streamed_body_arrives_whole(
    echo_server: tuple[str, Seen], transport: Transport
) -> None:
    base, seen = echo_server

    async def parts() -> AsyncIterator[bytes]:
        yield b"one,"
        yield b"two"

    async with build_client(ClientOptions(transport=transport, trust_env=False)) as client:
        response = await client.post(f"{base}/stream", content=parts())
        assert response.status_code == 429
        assert seen[-1][2] == b"one,two"
        assert len(_sent(seen, "transfer-encoding")) <= 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_backstop_timeout_ends_a_request_that_hangs(
    echo_server: tuple[str, Seen], transport: Transport
) -> None:
    base, _ = echo_server
    options = ClientOptions(transport=transport, trust_env=False, backstop_timeout=0.2)
    async with build_client(options) as client:
        with pytest.raises((httpx.TimeoutException, TimeoutError)):
            await client.get(f"{base}/slow")
