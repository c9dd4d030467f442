"""A simulated HTTP answer and the error bodies providers share (OpenAI's, Anthropic's, Google's).

Pure data builders; each kind's module (`simulator/kinds/`) picks the shapes its provider
documents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Answer",
    "anthropic_error",
    "google_error",
    "json_answer",
    "openai_error",
    "openai_model",
]


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete HTTP answer."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def with_headers(self, **extra: str) -> Answer:
        """The same answer with more headers (`retry_after="7"` -> `retry-after: 7`)."""
        more = {k.replace("_", "-"): v for k, v in extra.items()}
        return Answer(self.status, self.body, {**self.headers, **more}, self.content_type)


def json_answer(status: int, payload: object, headers: dict[str, str] | None = None) -> Answer:
    """`payload` as a JSON answer."""
    return Answer(status, json.dumps(payload).encode(), headers or {})


def openai_error(status: int, message: str, type_: str, code: str | None) -> Answer:
    """OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`."""
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return json_answer(status, body, {"x-request-id": "req_sim"})


def anthropic_error(status: int, type_: str, message: str) -> Answer:
    """Anthropic's error body: `{"type": "error", "error": {"type", "message"}}`."""
    body = {"type": "error", "error": {"type": type_, "message": message}}
    return json_answer(status, body, {"request-id": "req_sim"})


def google_error(status: int, rpc: str, message: str, details: list[Any] | None = None) -> Answer:
    """Google's RPC error body: `{"error": {"code", "message", "status", "details"?}}`."""
    err: dict[str, Any] = {"code": status, "message": message, "status": rpc}
    if details:
        err["details"] = details
    ans = json_answer(status, {"error": err})
    return Answer(ans.status, ans.body, ans.headers, "application/json; charset=UTF-8")


def openai_model(name: str, owner: str = "system") -> dict[str, Any]:
    """One entry of an OpenAI-style models list."""
    return {"id": name, "object": "model", "created": 1700000000, "owned_by": owner}
