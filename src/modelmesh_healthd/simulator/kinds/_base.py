"""`SimKind`: what a simulated provider of one kind answers, per behaviour; OpenAI's by default.

A kind module subclasses it and overrides what its provider documents differently: its healthy
routes, its key header, its error bodies. Every method is pure: a provider's state in, an
`Answer` out.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

from modelmesh_healthd.kinds import kind_spec
from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._chat import openai_chat
from modelmesh_healthd.simulator.shapes import Answer, json_answer, openai_error, openai_model

__all__ = ["OpenAIStyle", "SimKind", "int_param", "json_body", "loading_answer"]


def json_body(body: bytes) -> dict[str, Any]:
    """A request body as a JSON object; empty when it is not one."""
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def loading_answer() -> Answer:
    """llama.cpp's answer while a model loads: 503 `Loading model`."""
    body = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
    return json_answer(503, body)


def int_param(value: str | None, default: int) -> int:
    """A positive integer query parameter, `default` when absent or unreadable."""
    try:
        return max(1, int(value)) if value else default
    except ValueError:
        return default


class SimKind:
    """One kind's simulated answers. Subclasses set `name`, `default_key` and `models`.

    Attributes:
        name: The kind.
        default_key: The key the default provider of this kind accepts (None: no key).
        models: The default provider's model names.
        url_suffix: Appended to the provider's prefix to make its base URL (`/v1` for openai).
        open_paths: Path prefixes answered without a key (vLLM's `/health`).
    """

    name = ""
    default_key: str | None = None
    models: tuple[str, ...] = ()
    url_suffix = ""
    open_paths: tuple[str, ...] = ()

    # --- the key ---------------------------------------------------------------------------

    def given_key(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str:
        """The key the request carries, where this kind's spec says it travels."""
        spec = kind_spec(self.name)
        if spec.auth_header is None:
            return ""
        return headers.get(spec.auth_header, "").removeprefix(spec.auth_prefix)

    def key_ok(
        self, p: SimProvider, headers: Mapping[str, str], query: Mapping[str, str], path: str
    ) -> bool:
        """Whether the request may pass: right key, no key needed, or an open path."""
        if p.api_key is None or (self.open_paths and path.startswith(self.open_paths)):
            return True
        return hmac.compare_digest(self.given_key(headers, query).encode(), p.api_key.encode())

    def precheck(self, headers: Mapping[str, str]) -> Answer | None:
        """An answer to a request the provider refuses before routing it (a missing header)."""
        return None

    # --- errors ----------------------------------------------------------------------------

    def error(self, status: int, message: str) -> Answer:
        """The kind's generic error body."""
        return openai_error(status, message, "server_error" if status >= 500 else "error", None)

    def bad_key(self, p: SimProvider) -> Answer:
        """What the kind answers a missing, wrong or revoked key."""
        return openai_error(
            401,
            "Incorrect API key provided: sk-****.",
            "invalid_request_error",
            "invalid_api_key",
        )

    def unauthorized(self, p: SimProvider) -> Answer:
        """401 in the kind's shape."""
        return self.bad_key(p)

    def forbidden(self, p: SimProvider) -> Answer:
        """403 in the kind's shape."""
        return self.error(403, "Forbidden")

    def rate_limited(self, p: SimProvider) -> Answer:
        """429 rate limit, with `retry-after`."""
        return self.error(429, "Rate limit exceeded").with_headers(retry_after=f"{p.retry_after:g}")

    def insufficient_quota(self, p: SimProvider) -> Answer:
        """Quota or credit exhausted (OpenAI's 429 `insufficient_quota` by default)."""
        return openai_error(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            "insufficient_quota",
        )

    def payment_required(self, p: SimProvider) -> Answer:
        """402: out of credits."""
        return self.error(402, "Insufficient credits. Add more using the billing page.")

    def overloaded(self, p: SimProvider) -> Answer:
        """The provider's overloaded answer (503 by default)."""
        return openai_error(
            503, "The engine is currently overloaded, please try again later", "server_error", None
        )

    def server_error(self, p: SimProvider) -> Answer:
        """500."""
        return self.error(500, "The server had an error while processing your request.")

    def unavailable(self, p: SimProvider) -> Answer:
        """503 service unavailable."""
        return self.error(503, "Service Unavailable")

    def model_not_found(self, p: SimProvider, name: str) -> Answer:
        """404 for one model looked up by its URL."""
        return openai_error(
            404, f"The model '{name}' does not exist", "invalid_request_error", "model_not_found"
        )

    def not_found(self, p: SimProvider, path: str) -> Answer:
        """404 for a path the provider does not serve."""
        return self.error(404, "Not Found")

    # --- healthy ---------------------------------------------------------------------------

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """The correct answer to `GET /{path}`, or None for a path this kind does not serve."""
        return None

    def post(
        self, p: SimProvider, path: str, query: Mapping[str, str], body: bytes
    ) -> Answer | None:
        """The correct answer to `POST /{path}` with `body`, or None for a path not served."""
        return None

    def model_answer(self, p: SimProvider, name: str) -> Answer | None:
        """What one model's own endpoint answers instead of success: missing, overloaded,
        loading (`SimProvider.model_states`); None when the model is fine."""
        if name not in p.listed:
            return self.model_not_found(p, name)
        state = p.model_states.get(name)
        if state == "overloaded":
            return self.overloaded(p)
        if state == "loading":
            return loading_answer()
        return None


class OpenAIStyle(SimKind):
    """An OpenAI-compatible API: `{models_path}` lists, `{models_path}/{id}` looks one up."""

    models_path = "v1/models"

    def not_found(self, p: SimProvider, path: str) -> Answer:
        """OpenAI's 404 for an unknown route."""
        return openai_error(404, f"Invalid URL (GET /{path})", "invalid_request_error", None)

    def rate_limited(self, p: SimProvider) -> Answer:
        """OpenAI's 429 with its rate-limit headers."""
        a = openai_error(
            429,
            "Rate limit reached for requests per min (RPM): Limit 500, Used 500, Requested 1.",
            "requests",
            "rate_limit_exceeded",
        )
        limits = {
            "retry-after": f"{p.retry_after:g}",
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-remaining-tokens": "29000",
            "x-ratelimit-reset-requests": f"{p.retry_after:g}s",
        }
        return Answer(429, a.body, {**a.headers, **limits})

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """The models list and one model by id."""
        if path == self.models_path:
            return json_answer(200, self.models_list(p))
        if path.startswith(self.models_path + "/"):
            name = path.removeprefix(self.models_path + "/")
            if name in p.listed:
                return json_answer(200, openai_model(name))
            return self.model_not_found(p, name)
        return None

    def post(
        self, p: SimProvider, path: str, query: Mapping[str, str], body: bytes
    ) -> Answer | None:
        """Chat completions (for the canary: `simulator/kinds/_chat.py`)."""
        if path.endswith("chat/completions"):
            return openai_chat(self, p, json_body(body))
        return None

    def models_list(self, p: SimProvider) -> Any:
        """The body of the models list."""
        return {"object": "list", "data": [openai_model(m) for m in p.listed]}
