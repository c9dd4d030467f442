"""Simulated Gemini: `/v1beta/models` paged by `pageSize`; a bad key is a 400; daily quota; the
free `POST /v1beta/models/{m}:countTokens`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import SimKind, int_param, json_body
from modelmesh_healthd.simulator.kinds._chat import gemini_generate
from modelmesh_healthd.simulator.shapes import Answer, google_error, json_answer

__all__ = ["SIM"]


class Gemini(SimKind):
    """Google's documented answers for the Gemini API."""

    name = "gemini"
    default_key = "AIzaSim-gemini-0000"
    models = ("gemini-2.0-flash", "gemini-1.5-pro", "text-embedding-004")

    def given_key(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str:
        """`x-goog-api-key`, or the `key` query parameter."""
        return headers.get("x-goog-api-key", query.get("key", ""))

    def error(self, status: int, message: str) -> Answer:
        """Google's RPC error body."""
        rpc = {403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}
        return google_error(status, rpc.get(status, "INTERNAL"), message)

    def bad_key(self, p: SimProvider) -> Answer:
        """400 `INVALID_ARGUMENT`, reason `API_KEY_INVALID`."""
        return google_error(
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

    def unauthorized(self, p: SimProvider) -> Answer:
        """401 `UNAUTHENTICATED`."""
        return google_error(401, "UNAUTHENTICATED", "Request had invalid credentials.")

    def forbidden(self, p: SimProvider) -> Answer:
        """403 `PERMISSION_DENIED`."""
        return google_error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers")

    def rate_limited(self, p: SimProvider) -> Answer:
        """429 `RESOURCE_EXHAUSTED` with RetryInfo."""
        return google_error(
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

    def insufficient_quota(self, p: SimProvider) -> Answer:
        """The daily quota: the same 429 as the rate limit, told apart by a per-day quota id."""
        return google_error(
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

    def overloaded(self, p: SimProvider) -> Answer:
        """503 `UNAVAILABLE`."""
        return google_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")

    def server_error(self, p: SimProvider) -> Answer:
        """500 `INTERNAL`."""
        return google_error(500, "INTERNAL", "An internal error has occurred.")

    def model_not_found(self, p: SimProvider, name: str) -> Answer:
        """404 `NOT_FOUND`."""
        return google_error(404, "NOT_FOUND", f"models/{name} is not found for API version v1beta")

    def not_found(self, p: SimProvider, path: str) -> Answer:
        """404 `NOT_FOUND`."""
        return google_error(404, "NOT_FOUND", "Requested entity was not found.")

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """The models list (paged by `pageSize`) and one model by name."""
        if path == "v1beta/models":
            size = int_param(query.get("pageSize"), 50)
            models = [{"name": f"models/{m}", "version": "001", "displayName": m} for m in p.listed]
            body: dict[str, Any] = {"models": models[:size]}
            if len(models) > size:
                body["nextPageToken"] = "sim-next-page"
            ans = json_answer(200, body)
            return Answer(200, ans.body, {}, "application/json; charset=UTF-8")
        if path.startswith("v1beta/models/"):
            name = path.removeprefix("v1beta/models/")
            if name not in p.listed:
                return self.model_not_found(p, name)
            return json_answer(
                200, {"name": f"models/{name}", "version": "001", "displayName": name}
            )
        return None

    def post(
        self, p: SimProvider, path: str, query: Mapping[str, str], body: bytes
    ) -> Answer | None:
        """`models/{m}:countTokens`: `{"totalTokens", "promptTokensDetails"}`; generation for
        the canary."""
        for verb in (":generateContent", ":streamGenerateContent"):
            if path.startswith("v1beta/models/") and path.endswith(verb):
                name = path.removeprefix("v1beta/models/").removesuffix(verb)
                stream = verb == ":streamGenerateContent"
                return gemini_generate(self, p, name, json_body(body), stream=stream)
        if not (path.startswith("v1beta/models/") and path.endswith(":countTokens")):
            return None
        name = path.removeprefix("v1beta/models/").removesuffix(":countTokens")
        contents = json_body(body).get("contents")
        if not isinstance(contents, list) or not contents:
            return google_error(400, "INVALID_ARGUMENT", "* contents: contents is not specified")
        refused = self.model_answer(p, name)
        if refused is not None:
            return refused
        total = 1 + len(str(contents)) // 16
        details = [{"modality": "TEXT", "tokenCount": total}]
        return json_answer(200, {"totalTokens": total, "promptTokensDetails": details})


SIM = Gemini()
