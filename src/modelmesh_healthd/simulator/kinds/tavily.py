"""Simulated Tavily: key usage (the key's credit left is the provider's `limit_remaining`),
`{"detail": {"error": ...}}` errors, and its 432 for a key or plan over its limit."""

from __future__ import annotations

from collections.abc import Mapping

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import SimKind
from modelmesh_healthd.simulator.shapes import Answer, json_answer

__all__ = ["SIM"]

_LIMIT = 1000.0


class Tavily(SimKind):
    """Tavily's documented answers."""

    name = "tavily"
    default_key = "tvly-sim-0000"
    models = ("search",)

    def error(self, status: int, message: str) -> Answer:
        """`{"detail": {"error": "text"}}`."""
        return json_answer(status, {"detail": {"error": message}})

    def bad_key(self, p: SimProvider) -> Answer:
        """401: missing or invalid key."""
        return self.error(401, "Unauthorized: missing or invalid API key.")

    def insufficient_quota(self, p: SimProvider) -> Answer:
        """432: the key's or the plan's usage limit is reached."""
        return self.error(432, "This request exceeds your plan's set usage limit.")

    def payment_required(self, p: SimProvider) -> Answer:
        """433: the pay-as-you-go limit is reached."""
        return self.error(433, "This request exceeds the pay-as-you-go limit.")

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """`GET /usage`."""
        if path != "usage":
            return None
        key: dict[str, float | None]
        if p.limit_remaining is None:
            key = {"usage": 12.0, "limit": None}
        else:
            key = {"usage": _LIMIT - p.limit_remaining, "limit": _LIMIT}
        account = {"current_plan": "Researcher", "plan_usage": 12, "plan_limit": 1000}
        return json_answer(200, {"key": key, "account": account})


SIM = Tavily()
