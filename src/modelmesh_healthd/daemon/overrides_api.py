"""The admin API's overrides: `GET/POST/DELETE /v1/overrides` (what `drain`, `undrain` and
`overrides` call).

    GET    /v1/overrides                 -> {"overrides": [...]}
    POST   /v1/overrides                 {"target": "p", "for": "30m", "reason": "..."}
                                         -> 200 {"overrides": [the one set]}
    DELETE /v1/overrides/{target}        -> 200 {"cleared": true|false}

A bad request gets 400 (JSON body not an object, unknown target, bad duration) and changes
nothing; writes need the admin token (`daemon/admin_auth.py`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from modelmesh_healthd.config.types import PositiveDuration
from modelmesh_healthd.daemon.view import DaemonControls
from modelmesh_healthd.state.overrides import OverrideError

__all__ = ["MAX_REASON", "add_routes"]

MAX_REASON = 500
"""Longest reason kept (characters): it goes into logs and the state."""

_DURATION: TypeAdapter[float] = TypeAdapter(PositiveDuration)


def add_routes(app: web.Application, daemon: DaemonControls, prefix: str = "") -> None:
    """Register the overrides endpoints on `app`, under `prefix` (`admin.base_path`) if given."""
    api = _Api(daemon)
    app.router.add_get(f"{prefix}/v1/overrides", api.list)
    app.router.add_post(f"{prefix}/v1/overrides", api.set)
    app.router.add_delete(f"{prefix}/v1/overrides/{{target}}", api.clear)


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


class _Api:
    __slots__ = ("_daemon",)

    def __init__(self, daemon: DaemonControls) -> None:
        self._daemon = daemon

    async def list(self, _request: web.Request) -> web.Response:
        return web.json_response({"overrides": [o.to_dict() for o in self._daemon.overrides()]})

    async def set(self, request: web.Request) -> web.Response:
        try:
            body: Any = await request.json()
        except ValueError:
            return _bad("body must be JSON")
        if not isinstance(body, dict):
            return _bad("body must be a JSON object")
        target, length, reason = body.get("target"), body.get("for"), body.get("reason", "")
        if not isinstance(target, str) or not target:
            return _bad("'target' must be a provider or model id")
        if not isinstance(reason, str) or len(reason) > MAX_REASON:
            return _bad(f"'reason' must be a string of at most {MAX_REASON} characters")
        try:
            seconds = float(_DURATION.validate_python(length))
        except ValidationError:
            return _bad(f"'for' must be a positive duration such as '30m' or '2h', got {length!r}")
        try:
            held = self._daemon.set_override(target, seconds, reason)
        except OverrideError as exc:
            return _bad(str(exc))
        return web.json_response({"overrides": [o.to_dict() for o in held]})

    async def clear(self, request: web.Request) -> web.Response:
        try:
            cleared = self._daemon.clear_override(request.match_info["target"])
        except OverrideError as exc:
            return web.json_response({"error": str(exc)}, status=404)
        return web.json_response({"cleared": cleared})
