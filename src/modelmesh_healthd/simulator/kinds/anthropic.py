"""Simulated Anthropic: `/v1/models` paged by `limit`, `anthropic-version` required, 529, and
the free `POST /v1/messages/count_tokens` (404 `not_found_error` for an unknown model)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import SimKind, int_param, json_body
from modelmesh_healthd.simulator.kinds._chat import anthropic_messages
from modelmesh_healthd.simulator.shapes import Answer, anthropic_error, json_answer

__all__ = ["SIM"]


class Anthropic(SimKind):
    """Anthropic's documented answers."""

    name = "anthropic"
    default_key = "sk-ant-sim-0000"
    models = ("claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022")

    def precheck(self, headers: Mapping[str, str]) -> Answer | None:
        """400 without `anthropic-version`."""
        if "anthropic-version" in headers:
            return None
        return json_answer(
            400,
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "anthropic-version: header is required",
                },
            },
        )

    def error(self, status: int, message: str) -> Answer:
        """Anthropic's error body."""
        return anthropic_error(status, "api_error" if status >= 500 else "error", message)

    def bad_key(self, p: SimProvider) -> Answer:
        """401 `authentication_error`."""
        return anthropic_error(401, "authentication_error", "invalid x-api-key")

    def forbidden(self, p: SimProvider) -> Answer:
        """403 `permission_error`."""
        return anthropic_error(403, "permission_error", "Your API key does not have permission")

    def rate_limited(self, p: SimProvider) -> Answer:
        """429 `rate_limit_error` with retry-after and its headroom header."""
        a = anthropic_error(
            429, "rate_limit_error", "Number of requests has exceeded your rate limit"
        )
        return a.with_headers(
            retry_after=f"{p.retry_after:g}", anthropic_ratelimit_requests_remaining="0"
        )

    def payment_required(self, p: SimProvider) -> Answer:
        """402 `billing_error`."""
        return anthropic_error(402, "billing_error", "Your credit balance is too low")

    def overloaded(self, p: SimProvider) -> Answer:
        """529 `overloaded_error`."""
        return anthropic_error(529, "overloaded_error", "Overloaded")

    def server_error(self, p: SimProvider) -> Answer:
        """500 `api_error`."""
        return anthropic_error(500, "api_error", "Internal server error")

    def model_not_found(self, p: SimProvider, name: str) -> Answer:
        """404 `not_found_error`."""
        return anthropic_error(404, "not_found_error", f"model: {name}")

    def not_found(self, p: SimProvider, path: str) -> Answer:
        """404 `not_found_error`."""
        return anthropic_error(404, "not_found_error", "Not found")

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """The models list (paged by `limit`) and one model by id."""
        listed = p.listed
        if path == "v1/models":
            limit = int_param(query.get("limit"), 20)
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2025-02-19T00:00:00Z"}
                for m in listed
            ]
            page = data[:limit]
            return json_answer(
                200,
                {
                    "data": page,
                    "has_more": len(data) > limit,
                    "first_id": page[0]["id"] if page else None,
                    "last_id": page[-1]["id"] if page else None,
                },
            )
        if path.startswith("v1/models/"):
            name = path.removeprefix("v1/models/")
            if name not in listed:
                return self.model_not_found(p, name)
            model = {
                "type": "model",
                "id": name,
                "display_name": name,
                "created_at": "2025-02-19T00:00:00Z",
            }
            return json_answer(200, model)
        return None

    def post(
        self, p: SimProvider, path: str, query: Mapping[str, str], body: bytes
    ) -> Answer | None:
        """`count_tokens`: `{"input_tokens": n}` for a model it serves."""
        if path == "v1/messages":
            return anthropic_messages(self, p, json_body(body))
        if path != "v1/messages/count_tokens":
            return None
        req = json_body(body)
        model, messages = req.get("model"), req.get("messages")
        if not isinstance(model, str) or not isinstance(messages, list):
            return anthropic_error(400, "invalid_request_error", "model: Field required")
        refused = self.model_answer(p, model)
        if refused is not None:
            return refused
        return json_answer(200, {"input_tokens": 8 + len(json.dumps(messages)) // 4})


SIM = Anthropic()
