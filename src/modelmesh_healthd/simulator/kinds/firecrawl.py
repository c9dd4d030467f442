"""Simulated Firecrawl: credit usage (its `remaining_credits` is the provider's
`limit_remaining`), `{"success": false, "error": ...}` errors, 402 when out of credits."""

from __future__ import annotations

from collections.abc import Mapping

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import SimKind
from modelmesh_healthd.simulator.shapes import Answer, json_answer

__all__ = ["SIM"]


class Firecrawl(SimKind):
    """Firecrawl's documented answers."""

    name = "firecrawl"
    default_key = "fc-sim-0000"
    models = ("scrape",)

    def error(self, status: int, message: str) -> Answer:
        """`{"success": false, "error": "text"}`."""
        return json_answer(status, {"success": False, "error": message})

    def bad_key(self, p: SimProvider) -> Answer:
        """401 `Unauthorized: Invalid token`."""
        return self.error(401, "Unauthorized: Invalid token")

    def insufficient_quota(self, p: SimProvider) -> Answer:
        """402: not enough credits."""
        return self.payment_required(p)

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """`GET /v1/team/credit-usage`."""
        if path == "v1/team/credit-usage":
            remaining = 500.0 if p.limit_remaining is None else p.limit_remaining
            data = {
                "remaining_credits": remaining,
                "plan_credits": 500,
                "billing_period_start": "2025-01-01T00:00:00Z",
                "billing_period_end": "2025-01-31T23:59:59Z",
            }
            return json_answer(200, {"success": True, "data": data})
        return None


SIM = Firecrawl()
