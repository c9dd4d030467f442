"""What a simulated provider answers: each kind's bodies and headers, per behaviour.

Pure functions (no server here): a provider's state and a behaviour in, a status, headers and a
body out, shaped like the real providers' answers in PROVIDERS.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from modelmesh_healthd.simulator.behaviours import Behaviour, SimProvider

__all__ = ["Answer", "bad_key_answer", "error_answer", "healthy_answer"]


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete HTTP answer."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


def _json(status: int, payload: object, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, json.dumps(payload).encode(), headers or {})


# --- error shapes ------------------------------------------------------------------


def _openai_error(status: int, message: str, type_: str, code: str | None) -> Answer:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return _json(status, body, {"x-request-id": "req_sim"})


def _anthropic_error(status: int, type_: str, message: str) -> Answer:
    body = {"type": "error", "error": {"type": type_, "message": message}}
    return _json(status, body, {"request-id": "req_sim"})


def _google_error(status: int, rpc: str, message: str, details: list[Any] | None = None) -> Answer:
    err: dict[str, Any] = {"code": status, "message": message, "status": rpc}
    if details:
        err["details"] = details
    ans = _json(status, {"error": err})
    return Answer(ans.status, ans.body, ans.headers, "application/json; charset=UTF-8")


def _generic_error(kind: str, status: int, message: str) -> Answer:
    if kind in ("ollama", "http"):
        return _json(status, {"error": message})
    if kind == "openrouter":
        return _json(status, {"error": {"code": status, "message": message}})
    if kind == "azure-openai":
        return _json(status, {"error": {"code": str(status), "message": message}})
    if kind == "local":
        return _json(
            status, {"error": {"code": status, "message": message, "type": "server_error"}}
        )
    return _openai_error(status, message, "server_error" if status >= 500 else "error", None)


def bad_key_answer(p: SimProvider) -> Answer:
    """What the kind answers a missing, wrong or revoked key."""
    kind = p.kind
    if kind == "openai":
        return _openai_error(
            401,
            "Incorrect API key provided: sk-****. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        )
    if kind == "anthropic":
        return _anthropic_error(401, "authentication_error", "invalid x-api-key")
    if kind == "gemini":
        return _google_error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                }
            ],
        )
    if kind == "openrouter":
        return _json(401, {"error": {"message": "No auth credentials found", "code": 401}})
    if kind == "azure-openai":
        return _json(
            401,
            {
                "error": {
                    "code": "401",
                    "message": "Access denied due to invalid subscription key or wrong API "
                    "endpoint. Make sure to provide a valid key for an active subscription and "
                    "use a correct regional API endpoint for your resource.",
                }
            },
        )
    if kind == "local":
        return _json(
            401,
            {"error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}},
        )
    return _json(401, {"error": "unauthorized"})


def error_answer(  # noqa: PLR0912 - one branch per behaviour: a table
    p: SimProvider, behaviour: Behaviour
) -> Answer:
    """The answer of a non-streaming, non-healthy behaviour, in the kind's shape."""
    kind, b = p.kind, behaviour
    retry = {"retry-after": f"{p.retry_after:g}"}
    if b is Behaviour.KEY_REVOKED:
        return bad_key_answer(p)
    if b is Behaviour.UNAUTHORIZED:
        if kind == "gemini":
            return _google_error(401, "UNAUTHENTICATED", "Request had invalid credentials.")
        if kind == "anthropic":
            return _anthropic_error(401, "authentication_error", "invalid x-api-key")
        return bad_key_answer(p)
    if b is Behaviour.FORBIDDEN:
        if kind == "openai":
            return _openai_error(
                403,
                "Country, region, or territory not supported",
                "request_forbidden",
                "unsupported_country_region_territory",
            )
        if kind == "anthropic":
            return _anthropic_error(
                403, "permission_error", "Your API key does not have permission"
            )
        if kind == "gemini":
            return _google_error(
                403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers"
            )
        return _generic_error(kind, 403, "Forbidden")
    if b is Behaviour.RATE_LIMITED:
        if kind == "anthropic":
            a = _anthropic_error(
                429, "rate_limit_error", "Number of requests has exceeded your rate limit"
            )
            return Answer(
                429, a.body, {**a.headers, **retry, "anthropic-ratelimit-requests-remaining": "0"}
            )
        if kind == "gemini":
            return _google_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Resource has been exhausted (e.g. check quota).",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": f"{p.retry_after:g}s",
                    }
                ],
            )
        if kind in ("openai", "azure-openai", "local"):
            a = _openai_error(
                429,
                "Rate limit reached for requests per min (RPM): Limit 500, Used 500, Requested 1.",
                "requests",
                "rate_limit_exceeded",
            )
            limits = {
                "x-ratelimit-limit-requests": "500",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-remaining-tokens": "29000",
                "x-ratelimit-reset-requests": f"{p.retry_after:g}s",
            }
            return Answer(429, a.body, {**a.headers, **retry, **limits})
        e = _generic_error(kind, 429, "Rate limit exceeded")
        return Answer(429, e.body, retry)
    if b is Behaviour.INSUFFICIENT_QUOTA:
        if kind == "gemini":
            # Gemini's daily quota: the same 429 RESOURCE_EXHAUSTED as its rate limit, told
            # apart only by the QuotaFailure's per-day quota id.
            return _google_error(
                429,
                "RESOURCE_EXHAUSTED",
                "You exceeded your current quota, please check your plan and billing details.",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [
                            {
                                "quotaMetric": "generativelanguage.googleapis.com/"
                                "generate_content_free_tier_requests",
                                "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                            }
                        ],
                    },
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "46s"},
                ],
            )
        return _openai_error(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            "insufficient_quota",
        )
    if b is Behaviour.PAYMENT_REQUIRED:
        if kind == "anthropic":
            return _anthropic_error(402, "billing_error", "Your credit balance is too low")
        return _generic_error(kind, 402, "Insufficient credits. Add more using the billing page.")
    if b is Behaviour.OVERLOADED:
        if kind == "anthropic":
            return _anthropic_error(529, "overloaded_error", "Overloaded")
        if kind == "gemini":
            return _google_error(
                503, "UNAVAILABLE", "The model is overloaded. Please try again later."
            )
        return _openai_error(
            503, "The engine is currently overloaded, please try again later", "server_error", None
        )
    if b is Behaviour.LOADING:
        return _json(
            503, {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
        )
    if b is Behaviour.SERVER_ERROR:
        if kind == "anthropic":
            return _anthropic_error(500, "api_error", "Internal server error")
        if kind == "gemini":
            return _google_error(500, "INTERNAL", "An internal error has occurred.")
        return _generic_error(kind, 500, "The server had an error while processing your request.")
    if b is Behaviour.BAD_GATEWAY:
        html = b"<html><head><title>502 Bad Gateway</title></head><body>bad gateway</body></html>"
        return Answer(502, html, {}, "text/html")
    if b is Behaviour.UNAVAILABLE:
        if kind == "local":
            return Answer(503, b"", {}, "application/json")  # vLLM: engine dead, empty body
        return _generic_error(kind, 503, "Service Unavailable")
    raise ValueError(f"{b} is not an error answer")


# --- healthy answers ------------------------------------------------------------------------


def _model_not_found(p: SimProvider, name: str) -> Answer:
    if p.kind == "anthropic":
        return _anthropic_error(404, "not_found_error", f"model: {name}")
    if p.kind == "gemini":
        return _google_error(404, "NOT_FOUND", f"models/{name} is not found for API version v1beta")
    if p.kind == "azure-openai":
        return _json(
            404,
            {
                "error": {
                    "code": "DeploymentNotFound",
                    "message": "The API deployment for this resource does not exist.",
                }
            },
        )
    return _openai_error(
        404, f"The model '{name}' does not exist", "invalid_request_error", "model_not_found"
    )


def _not_found(p: SimProvider, path: str) -> Answer:
    if p.kind in ("openai", "local"):
        return _openai_error(404, f"Invalid URL (GET /{path})", "invalid_request_error", None)
    if p.kind == "anthropic":
        return _anthropic_error(404, "not_found_error", "Not found")
    if p.kind == "gemini":
        return _google_error(404, "NOT_FOUND", "Requested entity was not found.")
    return _generic_error(p.kind, 404, "Not Found")


def _int(value: str | None, default: int) -> int:
    try:
        return max(1, int(value)) if value else default
    except ValueError:
        return default


def _openai_model(name: str, owner: str = "system") -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1700000000, "owned_by": owner}


def healthy_answer(  # noqa: PLR0912 - one route per kind and path: a table
    p: SimProvider, path: str, query: dict[str, str]
) -> Answer:
    """The correct answer of a healthy provider of this kind to `GET /{path}`."""
    listed = p.listed
    kind = p.kind
    if kind in ("openai", "local") and path in ("v1/models", "models"):
        return _json(200, {"object": "list", "data": [_openai_model(m) for m in listed]})
    if kind in ("openai", "local") and path.startswith("v1/models/"):
        name = path.removeprefix("v1/models/")
        return _json(200, _openai_model(name)) if name in listed else _model_not_found(p, name)
    if kind == "local" and path == "health":
        return _json(200, {"status": "ok"})
    if kind == "anthropic" and path == "v1/models":
        limit = _int(query.get("limit"), 20)
        data = [
            {"type": "model", "id": m, "display_name": m, "created_at": "2025-02-19T00:00:00Z"}
            for m in listed
        ]
        page = data[:limit]
        return _json(
            200,
            {
                "data": page,
                "has_more": len(data) > limit,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
            },
        )
    if kind == "anthropic" and path.startswith("v1/models/"):
        name = path.removeprefix("v1/models/")
        if name not in listed:
            return _model_not_found(p, name)
        return _json(
            200,
            {
                "type": "model",
                "id": name,
                "display_name": name,
                "created_at": "2025-02-19T00:00:00Z",
            },
        )
    if kind == "gemini" and path == "v1beta/models":
        size = _int(query.get("pageSize"), 50)
        models = [{"name": f"models/{m}", "version": "001", "displayName": m} for m in listed]
        body: dict[str, Any] = {"models": models[:size]}
        if len(models) > size:
            body["nextPageToken"] = "sim-next-page"
        ans = _json(200, body)
        return Answer(200, ans.body, {}, "application/json; charset=UTF-8")
    if kind == "gemini" and path.startswith("v1beta/models/"):
        name = path.removeprefix("v1beta/models/")
        if name not in listed:
            return _model_not_found(p, name)
        return _json(200, {"name": f"models/{name}", "version": "001", "displayName": name})
    if kind == "openrouter" and path == "api/v1/key":
        key_info: dict[str, Any] = {
            "label": "sk-or-v1-sim...",
            "usage": 7.5,
            "limit": None if p.limit_remaining is None else 50.0,
            "is_free_tier": False,
            "limit_remaining": p.limit_remaining,
            "rate_limit": {"requests": 10, "interval": "10s"},
        }
        return _json(200, {"data": key_info})
    if kind == "openrouter" and path == "api/v1/models":
        return _json(200, {"data": [{"id": m, "name": m} for m in listed]})
    if kind == "azure-openai" and path.startswith("openai/"):
        if "api-version" not in query:
            return _json(404, {"error": {"code": "404", "message": "Resource not found"}})
        if path == "openai/models":
            return _json(
                200, {"object": "list", "data": [_openai_model(m, "system") for m in listed]}
            )
        if path.startswith("openai/models/"):
            name = path.removeprefix("openai/models/")
            return _json(200, _openai_model(name)) if name in listed else _model_not_found(p, name)
    if kind == "ollama" and path == "api/version":
        return _json(200, {"version": "0.5.7"})
    if kind == "ollama" and path == "api/tags":
        tags: list[dict[str, Any]] = [
            {
                "name": m,
                "model": m,
                "modified_at": "2025-01-01T00:00:00Z",
                "size": 2019393189,
                "digest": "sha256:sim",
                "details": {"format": "gguf", "family": "llama"},
            }
            for m in listed
        ]
        return _json(200, {"models": tags})
    if kind == "http":
        return _json(
            200, {"status": "ok", "version": "1.4.2", "checks": {"db": "up"}}, {"x-service": p.name}
        )
    return _not_found(p, path)
