"""The generic `http` kind: conditions (pure) and redirects (over real sockets)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr

from modelmesh_healthd.probes import (
    BodyCondition,
    Comparison,
    HeaderCondition,
    HttpOptions,
    JsonPathError,
    ProbeTarget,
    Reply,
    judge_http,
    probe,
)
from modelmesh_healthd.probes.classifier import parse_json_path
from modelmesh_healthd.state import Outcome

C = Comparison
DOC = {"status": "ok", "n": 3, "flag": True, "items": [{"id": "a"}, {"id": "b"}], "x-y": None}
BODY = json.dumps(DOC).encode()


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        (BodyCondition(json_path="$.status", op=C.EQ, value="ok"), True),
        (BodyCondition(json_path="status", op=C.NE, value="ok"), False),
        (BodyCondition(json_path="$.n", op=C.GE, value=3), True),
        (BodyCondition(json_path="$.n", op=C.LT, value=3), False),
        (BodyCondition(json_path="$.n", op=C.EQ, value=3.0), True),
        (BodyCondition(json_path="$.flag", op=C.EQ, value=1), False),  # JSON true is not 1
        (BodyCondition(json_path="$.items[1].id", op=C.EQ, value="b"), True),
        (BodyCondition(json_path="$.items[-1].id", op=C.EQ, value="b"), True),
        (BodyCondition(json_path="$.items[5].id", op=C.EXISTS), False),
        (BodyCondition(json_path='$["x-y"]', op=C.EXISTS), True),
        (BodyCondition(json_path="$.missing", op=C.ABSENT), True),
        (BodyCondition(json_path="$.status", op=C.CONTAINS, value="o"), True),
        (BodyCondition(json_path="$.status", op=C.MATCHES, value="^o.$"), True),
        (BodyCondition(json_path="$.status", op=C.GT, value=1), False),  # not a number: false
        (BodyCondition(regex=r'"status":\s*"ok"'), True),
        (BodyCondition(regex="error", negate=True), True),
    ],
)
def test_a_body_condition_holds_exactly_when_it_should(
    condition: BodyCondition, holds: bool
) -> None:
    options = HttpOptions(body=(condition,))
    got = judge_http(Reply(200, {}, BODY), options, 0.0)
    assert (got.outcome is Outcome.OK) == holds


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        (HeaderCondition("X-Service"), True),
        (HeaderCondition("x-other", C.ABSENT), True),
        (HeaderCondition("x-service", C.EQ, "api"), True),
        (HeaderCondition("x-count", C.GT, 10), True),
        (HeaderCondition("x-count", C.LT, 10), False),
        (HeaderCondition("x-service", C.MATCHES, "^a"), True),
    ],
)
def test_a_header_condition_holds_exactly_when_it_should(
    condition: HeaderCondition, holds: bool
) -> None:
    headers = httpx.Headers({"x-service": "api", "x-count": "12"})
    got = judge_http(Reply(200, headers, b""), HttpOptions(response_headers=(condition,)), 0.0)
    assert (got.outcome is Outcome.OK) == holds


def test_a_failed_condition_gives_the_configured_outcome() -> None:
    options = HttpOptions(
        body=(BodyCondition(json_path="$.status", op=C.EQ, value="down"),),
        on_condition_failure=Outcome.SERVER_ERROR,
    )
    got = judge_http(Reply(200, {}, BODY), options, 0.0)
    assert got.outcome is Outcome.SERVER_ERROR
    assert got.detail == "body condition failed: $.status =="


def test_an_unexpected_status_is_classified_like_any_provider_status() -> None:
    options = HttpOptions(expected_statuses=frozenset({200}))
    assert judge_http(Reply(401, {}, b""), options, 0.0).outcome is Outcome.AUTH_INVALID
    assert judge_http(Reply(204, {}, b""), options, 0.0).outcome is Outcome.PROTOCOL_ERROR
    assert judge_http(Reply(503, {}, b""), options, 0.0).outcome is Outcome.OVERLOADED


def test_json_conditions_on_a_body_that_is_not_json_are_a_protocol_error() -> None:
    options = HttpOptions(body=(BodyCondition(json_path="$.status", op=C.EXISTS),))
    assert judge_http(Reply(200, {}, b"<html>"), options, 0.0).outcome is Outcome.PROTOCOL_ERROR


@pytest.mark.parametrize("path", ["$.a..b", "$.a[", "$[x]", "$.a b"])
def test_a_malformed_json_path_is_rejected(path: str) -> None:
    with pytest.raises(JsonPathError):
        parse_json_path(path)


def test_a_body_condition_needs_exactly_one_of_path_and_regex() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        BodyCondition()
    with pytest.raises(ValueError, match="exactly one"):
        BodyCondition(json_path="$.a", regex="a")


# --- redirects over real sockets --------------------------------------------------


async def _echo(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "headers": dict(request.headers)})


async def _start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def servers() -> AsyncIterator[tuple[str, str]]:
    """Two origins: `a` redirects (to itself, to `b`, in a loop); `b` echoes headers."""
    other = web.Application()
    other.router.add_get("/echo", _echo)
    runner_b, b = await _start(other)

    app = web.Application()
    app.router.add_get("/echo", _echo)

    async def same(_r: web.Request) -> web.Response:
        raise web.HTTPFound("/echo")

    async def cross(_r: web.Request) -> web.Response:
        raise web.HTTPFound(f"{b}/echo")

    async def loop(_r: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    app.router.add_get("/same", same)
    app.router.add_get("/cross", cross)
    app.router.add_get("/loop", loop)
    runner_a, a = await _start(app)
    yield a, b
    await runner_a.cleanup()
    await runner_b.cleanup()


def _redirect_target(base: str, path: str, **options: Any) -> ProbeTarget:
    return ProbeTarget(
        name="web",
        kind="http",
        base_url=base,
        api_key=SecretStr("tok-secret"),
        headers={"x-api-key": "hdr-secret"},
        timeout=2.0,
        options=HttpOptions(path=path, **options),
    )


async def test_a_redirect_is_not_followed_unless_asked(
    servers: tuple[str, str], client: httpx.AsyncClient
) -> None:
    result = await probe(client, _redirect_target(servers[0], "/same"))
    assert (result.outcome, result.status) == (Outcome.PROTOCOL_ERROR, 302)


async def test_a_same_origin_redirect_keeps_the_credentials(
    servers: tuple[str, str], client: httpx.AsyncClient
) -> None:
    target = _redirect_target(
        servers[0], "/same", follow_redirects=True, body=(BodyCondition(regex="hdr-secret"),)
    )
    result = await probe(client, target)
    assert result.outcome is Outcome.OK


async def test_a_cross_origin_redirect_drops_every_secret_header(
    servers: tuple[str, str], client: httpx.AsyncClient
) -> None:
    target = _redirect_target(
        servers[0],
        "/cross",
        follow_redirects=True,
        body=(BodyCondition(regex="secret", negate=True), BodyCondition(regex='"status"')),
    )
    result = await probe(client, target)
    assert result.outcome is Outcome.OK


async def test_a_redirect_loop_stops_at_the_hop_limit(
    servers: tuple[str, str], client: httpx.AsyncClient
) -> None:
    target = _redirect_target(servers[0], "/loop", follow_redirects=True, max_redirects=3)
    result = await probe(client, target)
    assert (result.outcome, result.status) == (Outcome.PROTOCOL_ERROR, 302)
