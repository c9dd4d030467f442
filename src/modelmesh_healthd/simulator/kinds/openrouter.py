"""Simulated OpenRouter: `/api/v1/key` with the credit left, and the public models list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import SimKind
from modelmesh_healthd.simulator.shapes import Answer, json_answer

__all__ = ["SIM"]


class OpenRouter(SimKind):
    """OpenRouter's documented answers."""

    name = "openrouter"
    default_key = "sk-or-v1-sim-0000"
    models = ("openai/gpt-4o", "anthropic/claude-3.5-sonnet")

    def error(self, status: int, message: str) -> Answer:
        """`{"error": {"code": status, "message"}}`."""
        return json_answer(status, {"error": {"code": status, "message": message}})

    def bad_key(self, p: SimProvider) -> Answer:
        """401 `No auth credentials found`."""
        return json_answer(401, {"error": {"message": "No auth credentials found", "code": 401}})

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """The key endpoint (with `limit_remaining`) and the models list."""
        if path == "api/v1/key":
            key_info: dict[str, Any] = {
                "label": "sk-or-v1-sim...",
                "usage": 7.5,
                "limit": None if p.limit_remaining is None else 50.0,
                "is_free_tier": False,
                "limit_remaining": p.limit_remaining,
                "rate_limit": {"requests": 10, "interval": "10s"},
            }
            return json_answer(200, {"data": key_info})
        if path == "api/v1/models":
            return json_answer(200, {"data": [{"id": m, "name": m} for m in p.listed]})
        return None


SIM = OpenRouter()
