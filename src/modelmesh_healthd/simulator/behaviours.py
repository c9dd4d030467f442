"""The simulated providers' state and the behaviours they can be switched between."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from modelmesh_healthd.kinds import KINDS as _SPECS

__all__ = ["KINDS", "MODEL_STATES", "STREAMING", "Behaviour", "SimProvider"]

MODEL_STATES = frozenset(
    {"overloaded", "loading", "not_loaded", "error_in_body", "reasoning_hog", "bad_request"}
)
"""What one simulated model can be, apart from its provider (`SimProvider.model_states`)."""

KINDS: tuple[str, ...] = tuple(name for name, spec in _SPECS.items() if spec.probed)
"""The kinds the simulator speaks: every probed kind of the registry."""


class Behaviour(StrEnum):
    """How a simulated provider behaves; switchable at any time."""

    HEALTHY = "healthy"
    """Answers correctly (and rejects a wrong key the way the kind does)."""
    UNAUTHORIZED = "unauthorized"
    """401 in the kind's error shape."""
    FORBIDDEN = "forbidden"
    """403 in the kind's error shape (OpenAI: unsupported region)."""
    KEY_REVOKED = "key_revoked"
    """Answers as the kind answers a bad key (Gemini: 400 `API_KEY_INVALID`; others 401)."""
    RATE_LIMITED = "rate_limited"
    """429 rate limit with `retry-after` (OpenAI `rate_limit_exceeded`, Gemini
    `RESOURCE_EXHAUSTED` with RetryInfo)."""
    INSUFFICIENT_QUOTA = "insufficient_quota"
    """OpenAI-shaped 429 `insufficient_quota`."""
    PAYMENT_REQUIRED = "payment_required"
    """402 (Anthropic `billing_error`, OpenRouter out of credits)."""
    OVERLOADED = "overloaded"
    """Anthropic 529 `overloaded_error`; other kinds 503 overloaded."""
    LOADING = "loading"
    """llama.cpp's 503 `Loading model`."""
    SERVER_ERROR = "server_error"
    """500."""
    BAD_GATEWAY = "bad_gateway"
    """502 with an HTML body, as a load balancer sends it."""
    UNAVAILABLE = "unavailable"
    """503 (for `local`: vLLM's dead or draining engine)."""
    HANG = "hang"
    """Reads the request and never answers."""
    SLOW_DRIP = "slow_drip"
    """Sends the headers, then the body one byte every `drip_interval` seconds."""
    RESET = "reset"
    """Resets the connection (a real TCP RST) instead of answering."""
    GARBAGE = "garbage"
    """200 with a body that is not JSON."""
    TRUNCATED = "truncated"
    """200 whose Content-Length promises more than is sent before the connection closes."""
    HUGE = "huge"
    """200 with a body of `huge_bytes` (1 GiB by default), streamed until the client leaves."""


STREAMING = frozenset(
    {
        Behaviour.HANG,
        Behaviour.SLOW_DRIP,
        Behaviour.RESET,
        Behaviour.GARBAGE,
        Behaviour.TRUNCATED,
        Behaviour.HUGE,
    }
)
"""Behaviours the server plays at the connection level rather than as a JSON answer."""


@dataclass(slots=True)
class SimProvider:
    """One simulated provider: its identity, credentials, models and current behaviour.

    Attributes:
        name: Provider id; also its path prefix on the server.
        kind: One of `KINDS`.
        api_key: The key it accepts; None accepts any (or none).
        models: Upstream model names it lists.
        behaviour: What it does now.
        missing_models: Names left out of the list (and 404 by id), for "model missing" tests.
        retry_after: Seconds in `retry-after` of rate-limit answers.
        drip_interval: Seconds between bytes in `slow_drip`.
        huge_bytes: Body size of `huge`.
        limit_remaining: Credit left on the key, where the kind reports it (OpenRouter's
            `limit_remaining`, Firecrawl's `remaining_credits`, Tavily's limit minus usage).
        model_states: Model name -> `overloaded`, `loading`, `not_loaded` (LM Studio's state
            `not-loaded`) (or, for completions:
            `error_in_body`, `reasoning_hog`, `bad_request`): what that one model's own
            endpoints answer (Anthropic's `count_tokens`, Ollama's `/api/show`, llama.cpp's
            `/health` while it loads) while the provider's lists still answer.
        requests: Requests received since start (or the last reset).
    """

    name: str
    kind: str
    api_key: str | None = None
    models: tuple[str, ...] = ()
    behaviour: Behaviour = Behaviour.HEALTHY
    missing_models: frozenset[str] = frozenset()
    retry_after: float = 7.0
    drip_interval: float = 0.1
    huge_bytes: int = 1 << 30
    limit_remaining: float | None = 42.5
    model_states: Mapping[str, str] = field(default_factory=dict)
    requests: int = field(default=0)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; one of {', '.join(KINDS)}")
        if "/" in self.name or not self.name or self.name.startswith("_"):
            raise ValueError(f"provider name {self.name!r} must be a plain path segment")

    @property
    def listed(self) -> tuple[str, ...]:
        """The models it lists now."""
        return tuple(m for m in self.models if m not in self.missing_models)

    def summary(self) -> dict[str, Any]:
        """Its state as JSON-ready data (no key)."""
        return {
            "kind": self.kind,
            "behaviour": str(self.behaviour),
            "models": list(self.models),
            "missing_models": sorted(self.missing_models),
            "retry_after": self.retry_after,
            "model_states": dict(self.model_states),
            "requests": self.requests,
        }
