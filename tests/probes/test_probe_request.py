"""`probe_request` builds the request `build_request` would, for every kind of client."""

from __future__ import annotations

import httpx
import pytest

from modelmesh_healthd.probes import TRANSPORTS, ClientOptions, build_client
from modelmesh_healthd.probes.client import probe_request

CASES = [
    ("GET", "http://127.0.0.1:9/v1/models", {"authorization": "Bearer sk-1"}, None),
    ("GET", "https://api.example.test/v1/models/gpt-4o", {"x-api-key": "k"}, None),
    ("POST", "http://127.0.0.1:9/v1/messages/count_tokens", {"x-api-key": "k"}, b'{"a":1}'),
    ("GET", "http://127.0.0.1:9/health", {}, None),
    # A configured header overrides the client's own (User-Agent, Accept).
    ("GET", "http://[::1]:9/x?q=1", {"User-Agent": "mine", "accept": "text/plain"}, None),
]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("method", "url", "headers", "content"), CASES)
async def test_same_request_as_build_request(
    transport: str, method: str, url: str, headers: dict[str, str], content: bytes | None
) -> None:
    async with build_client(ClientOptions(transport=transport)) as client:  # type: ignore[arg-type]
        for _ in range(2):  # the second time from the parsed-URL cache
            want = client.build_request(method, url, headers=headers, content=content)
            got = probe_request(client, method, url, headers, content)
            assert got.method == want.method
            assert got.url == want.url
            assert got.headers.raw == want.headers.raw
            assert got.content == want.content
            assert got.extensions == want.extensions


async def test_timeout_follows_the_client() -> None:
    async with build_client() as client:
        probe_request(client, "GET", "http://127.0.0.1:9/", {})
        client.timeout = httpx.Timeout(3.0)
        got = probe_request(client, "GET", "http://127.0.0.1:9/", {})
        assert got.extensions["timeout"]["read"] == 3.0


async def test_other_clients_merge_as_httpx_does() -> None:
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9/api/", cookies={"c": "1"}) as c:
        got = probe_request(c, "GET", "v1/models", {"x-api-key": "k"})
        assert got.url == httpx.URL("http://127.0.0.1:9/api/v1/models")
        assert got.headers["cookie"] == "c=1"
        assert got.headers["x-api-key"] == "k"
