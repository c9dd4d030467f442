"""The `drain`, `undrain` and `overrides` commands: clients of the running daemon's admin API.

They read only the configuration's `admin:` section (where the daemon listens and its token,
`${file:...}` or `${env:...}` resolved exactly as the daemon resolves them) and call
`/v1/overrides`; the daemon applies and persists the change, so they work with every store.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from modelmesh_healthd.config.admin import AdminConfig
from modelmesh_healthd.daemon.health_command import admin_settings

__all__ = ["OverrideClient", "format_overrides"]

_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - asked, not bound


class OverrideClient:
    """Talks to one daemon's `/v1/overrides`.

    Raises (every method):
        RuntimeError: One line: the daemon cannot be reached, or it refused (its error).
    """

    def __init__(self, admin: AdminConfig, timeout: float = 10.0) -> None:
        host = _WILDCARDS.get(admin.host, admin.host)
        host = f"[{host}]" if ":" in host else host
        self.base = f"http://{host}:{admin.port}/v1/overrides"
        self._timeout = timeout
        self._headers = {}
        if admin.token is not None:
            self._headers["Authorization"] = f"Bearer {admin.token.get_secret_value()}"

    @classmethod
    def from_config(cls, path: str | None, environ: Mapping[str, str]) -> OverrideClient:
        """A client for the daemon that configuration `path` describes.

        Raises:
            ValueError: The file or its `admin:` section is bad (one line).
        """
        admin = admin_settings(path, environ)
        if not admin.enabled:
            raise ValueError("the admin API is disabled (admin.enabled: false)")
        return cls(admin)

    def drain(self, target: str, length: str, reason: str) -> list[dict[str, Any]]:
        """Hold `target` for `length` (e.g. `30m`)."""
        body = {"target": target, "for": length, "reason": reason}
        out: list[dict[str, Any]] = self._call("POST", self.base, body)["overrides"]
        return out

    def undrain(self, target: str) -> bool:
        """End the override on `target`; False if it had none."""
        return bool(self._call("DELETE", f"{self.base}/{target}", None)["cleared"])

    def list(self) -> list[dict[str, Any]]:
        """Every override in force."""
        out: list[dict[str, Any]] = self._call("GET", self.base, None)["overrides"]
        return out

    def _call(self, method: str, url: str, body: dict[str, Any] | None) -> dict[str, Any]:
        try:
            resp = httpx.request(
                method, url, json=body, headers=self._headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            raise RuntimeError(f"cannot reach the daemon at {url}: {exc}") from None
        try:
            data: Any = resp.json()
        except ValueError:
            data = {}
        if resp.status_code != 200 or not isinstance(data, dict):
            error = data.get("error") if isinstance(data, dict) else None
            raise RuntimeError(f"the daemon refused ({resp.status_code}): {error or resp.text}")
        return data


def format_overrides(rows: list[dict[str, Any]], now: float | None = None) -> str:
    """A table of overrides for people (`overrides`, `status`)."""
    if not rows:
        return "no overrides"
    now = time.time() if now is None else now
    lines = [f"{'TARGET':<24} {'KIND':<8} {'ENDS IN':>9}  {'SOURCE':<16} REASON"]
    for o in rows:
        left = max(0.0, float(o["until"]) - now)
        lines.append(
            f"{o['target']:<24} {o['kind']:<8} {_span(left):>9}  {o['source']:<16} {o['reason']}"
        )
    return "\n".join(lines)


def _span(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 60:
        return f"{seconds / 60:.0f}m"
    return f"{seconds:.0f}s"
