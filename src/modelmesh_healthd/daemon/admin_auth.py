"""Who may call the admin API: one bearer token, from a file or the environment, in constant time.

`admin.token` holds the token (written `${file:/path}` or `${env:NAME}` in the configuration, so
it never sits in the file itself); `admin.auth` says what needs it:

| `admin.auth` | needs the token                                                  |
|--------------|------------------------------------------------------------------|
| `write`      | every request that is not GET/HEAD (overrides, reports): default |
| `read`       | every request but `/livez` and `/readyz` (supervisors' probes)   |
| `none`       | nothing (a test rig on loopback)                                 |

A refused request gets 401 before its handler runs, so it changes nothing.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import SecretStr

__all__ = ["OPEN_PATHS", "bearer_ok", "needs_token", "token_middleware"]

OPEN_PATHS: frozenset[str] = frozenset({"/livez", "/readyz"})
"""Paths a supervisor calls without credentials, whatever `admin.auth` says."""

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def needs_token(auth: str, method: str, path: str, base_path: str = "") -> bool:
    """Whether a request needs the bearer token under `auth` (`read`, `write` or `none`).

    `base_path` is `admin.base_path`: the open paths stay open under that prefix too.
    """
    if base_path and path.startswith(base_path + "/"):
        path = path[len(base_path) :]
    if auth == "none" or path in OPEN_PATHS:
        return False
    if auth == "read":
        return True
    return method.upper() not in _READ_METHODS


def bearer_ok(header: str | None, token: SecretStr | None) -> bool:
    """Whether an `Authorization` header carries `token`, compared in constant time.

    No configured token accepts nothing: a protected endpoint without a token is closed.
    """
    if token is None or not header:
        return False
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    expected = token.get_secret_value()
    return bool(expected) and hmac.compare_digest(credential.strip().encode(), expected.encode())


def token_middleware(
    auth: Callable[[], tuple[str, SecretStr | None]], base_path: str = ""
) -> Middleware:
    """An aiohttp middleware enforcing `auth()` (read on every request: a reload may change it).

    `base_path` is the prefix the endpoints are also answered under (`admin.base_path`).
    """

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        mode, token = auth()
        if needs_token(mode, request.method, request.path, base_path) and not bearer_ok(
            request.headers.get("Authorization"), token
        ):
            why = "missing or wrong bearer token" if token else "admin.token is not configured"
            return web.json_response(
                {"error": f"unauthorized: {why}"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="modelmesh-healthd"'},
            )
        return await handler(request)

    return check
