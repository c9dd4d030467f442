"""The probes' `httpx.AsyncClient`: no cookies kept, and a cheaper request for what probes send.

Every transport's client (`client.build_client`) is one of these.
"""

from __future__ import annotations

import functools
import http.cookiejar
from collections.abc import Mapping
from typing import Any

import httpx

__all__ = ["CookielessClient", "NoCookies"]


class NoCookies(httpx.Cookies):
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


class CookielessClient(httpx.AsyncClient):
    """`httpx.AsyncClient` whose `cookies` is always a `NoCookies` (setting it is ignored)."""

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


_NO_COOKIES = NoCookies()
