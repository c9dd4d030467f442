"""Simulated generic HTTP service: any path answers a JSON status document."""

from __future__ import annotations

from collections.abc import Mapping

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import SimKind
from modelmesh_healthd.simulator.shapes import Answer, json_answer

__all__ = ["SIM"]


class Http(SimKind):
    """A plain JSON service."""

    name = "http"

    def error(self, status: int, message: str) -> Answer:
        """`{"error": "text"}`."""
        return json_answer(status, {"error": message})

    def bad_key(self, p: SimProvider) -> Answer:
        """401."""
        return json_answer(401, {"error": "unauthorized"})

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """Every path: `{"status": "ok", ...}` with an `x-service` header."""
        body = {"status": "ok", "version": "1.4.2", "checks": {"db": "up"}}
        return json_answer(200, body, {"x-service": p.name})


SIM = Http()
