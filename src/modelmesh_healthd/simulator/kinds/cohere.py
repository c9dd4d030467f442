"""Simulated Cohere: `/v1/models` paged by `page_size`; `{"message": ...}` errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import SimKind, int_param
from modelmesh_healthd.simulator.shapes import Answer, json_answer

__all__ = ["SIM"]


class Cohere(SimKind):
    """Cohere's documented answers."""

    name = "cohere"
    default_key = "co-sim-0000"
    models = ("command-r-plus", "command-r", "embed-english-v3.0")

    def error(self, status: int, message: str) -> Answer:
        """`{"id": ..., "message": ...}`."""
        return json_answer(status, {"id": "sim-error", "message": message})

    def bad_key(self, p: SimProvider) -> Answer:
        """401 `invalid api token`."""
        return self.error(401, "invalid api token")

    def rate_limited(self, p: SimProvider) -> Answer:
        """429 with retry-after."""
        return self.error(
            429, "You are using a Trial key, which is limited to 10 API calls / minute."
        ).with_headers(retry_after=f"{p.retry_after:g}")

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """The models list, paged by `page_size`."""
        if path != "v1/models":
            return None
        size = int_param(query.get("page_size"), 20)
        models = [{"name": m, "endpoints": ["chat"], "finetuned": False} for m in p.listed]
        body: dict[str, Any] = {"models": models[:size]}
        if len(models) > size:
            body["next_page_token"] = "sim-next-page"  # noqa: S105 - a page cursor, not a secret
        return json_answer(200, body)


SIM = Cohere()
