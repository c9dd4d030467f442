"""The shared probe client keeps no cookies: one provider's answer never rides along with the
next probe (of it or of another provider behind the same host), on either transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from modelmesh_healthd.probes import TRANSPORTS, ClientOptions, Transport, build_client
from service_support import serve_app


@pytest.fixture
async def cookie_server() -> AsyncIterator[tuple[str, list[str | None]]]:
    seen: list[str | None] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        response = web.json_response({"object": "list", "data": []})
        response.set_cookie("session", "from-the-last-probe", path="/")
        return response

    app = web.Application()
    app.router.add_get("/v1/models", handle)
    async with serve_app(app) as base:
        yield f"{base}/v1/models", seen


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_cookie_one_answer_sets_is_not_sent_with_the_next_request(
    cookie_server: tuple[str, list[str | None]], transport: Transport
) -> None:
    url, seen = cookie_server
    async with build_client(ClientOptions(transport=transport, trust_env=False)) as client:
        first = await client.get(url)
        second = await client.get(url)
        assert "session" in first.headers.get("set-cookie", "")
        assert second.status_code == 200
        assert len(client.cookies) == 0
    assert seen == [None, None]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_setting_the_client_cookies_keeps_none(transport: Transport) -> None:
    async with build_client(ClientOptions(transport=transport, trust_env=False)) as client:
        client.cookies = {"session": "x"}
        assert len(client.cookies) == 0
