"""Judging a provider's error answer: pure functions from (status, headers, body) to a finding.

No I/O and no clock here (the wall time needed to read a Retry-After date is a parameter), so
every rule is table-tested without sockets. PROVIDERS.md is the source of these rules; the traps
it names are called out where they are handled. What differs between providers (which headers
carry headroom, whether a 400 can mean a bad key, what a 503 means) is each kind's `Dialect`,
declared in its kind module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

from modelmesh_healthd.probes.classifier.replies import Finding, Reply, parse_json_object
from modelmesh_healthd.probes.result import EMPTY_HEADROOM
from modelmesh_healthd.state.outcome import Outcome

__all__ = [
    "MAX_RETRY_AFTER",
    "OPENAI_HEADROOM",
    "PLAIN",
    "Dialect",
    "ErrorInfo",
    "error_info",
    "judge_error",
    "parse_retry_after",
    "rate_limit_headroom",
]

MAX_RETRY_AFTER = 86_400.0
"""Retry-After values are capped at one day: a larger one is more likely a bug than a plan."""


# --- headers -----------------------------------------------------------------


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Parse a Retry-After value (delay-seconds or an HTTP date) into seconds from `now`.

    Args:
        value: The header value, or None.
        now: Current Unix time, for the date form.

    Returns:
        Seconds (0 for a date in the past, at most `MAX_RETRY_AFTER`), or None if absent or
        unreadable.
    """
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; parsedate gives naive for "-0000"
            seconds = when.replace(tzinfo=UTC).timestamp() - now
        else:
            seconds = when.timestamp() - now
        if not math.isfinite(seconds):
            return None
        return min(max(seconds, 0.0), MAX_RETRY_AFTER)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)


def _retry_after(headers: Mapping[str, str], now: float) -> float | None:
    # OpenAI's SDKs prefer the millisecond form when both are sent.
    ms = headers.get("retry-after-ms")
    if ms:
        value = parse_retry_after(ms, now)
        if value is not None:
            return value / 1000.0
    return parse_retry_after(headers.get("retry-after"), now)


OPENAI_HEADROOM: tuple[tuple[str, str], ...] = (
    ("x-ratelimit-remaining-requests", "requests"),
    ("x-ratelimit-remaining-tokens", "tokens"),
)
"""OpenAI's headroom headers, which OpenAI-compatible providers copy."""


def rate_limit_headroom(
    headers: Mapping[str, str], names: tuple[tuple[str, str], ...]
) -> Mapping[str, float]:
    """Read the rate-limit headroom headers a kind's provider sends, when present.

    Args:
        headers: Response headers.
        names: (header, headroom key) pairs to read: the kind's `Dialect.headroom`.

    Returns:
        {"requests": n, "tokens": n, ...} for the headers present and numeric; often empty (the
        providers document these headers on inference responses, not on the models list).
    """
    if not names:
        return EMPTY_HEADROOM
    out: dict[str, float] | None = None
    for header, key in names:
        raw = headers.get(header)
        if raw is None:
            continue
        try:
            value = float(raw)
        except ValueError:
            continue
        if math.isfinite(value):
            if out is None:
                out = {}
            out[key] = value
    return out if out is not None else EMPTY_HEADROOM


# --- bodies ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """The machine-readable parts of a provider's error body (never its message).

    Attributes:
        code: `error.code` (OpenAI `insufficient_quota`, Gemini `400`, Azure `DeploymentNotFound`).
        type: `error.type` (OpenAI, Anthropic `overloaded_error`).
        status: `error.status` (Google RPC status, `INVALID_ARGUMENT`).
        reasons: `error.details[].reason` (Google `API_KEY_INVALID`).
        retry_delay: Google `RetryInfo.retryDelay` in seconds.
        loading: The body says a model is loading (llama.cpp).
        quota_ids: Google `QuotaFailure.violations[].quotaId` (which quota ran out).
    """

    code: str | None = None
    type: str | None = None
    status: str | None = None
    reasons: tuple[str, ...] = ()
    retry_delay: float | None = None
    loading: bool = False
    quota_ids: tuple[str, ...] = ()

    @property
    def tokens(self) -> frozenset[str]:
        """Every code-like value, for matching."""
        values = (self.code, self.type, self.status, *self.reasons)
        return frozenset(v for v in values if v)

    @property
    def label(self) -> str:
        """A short secret-free label, e.g. `INVALID_ARGUMENT/API_KEY_INVALID`."""
        parts = [p for p in (self.code, self.type, self.status, *self.reasons) if p]
        return "/".join(dict.fromkeys(parts))[:120]


_NO_INFO = ErrorInfo()


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one kind's provider speaks about errors and limits: the traps `judge_error` reads.

    Attributes:
        name: The kind.
        headroom: (response header, headroom key) pairs the provider sends.
        bad_key_400: Tells a 400 that means a bad key (Gemini's trap); None: a 400 never does.
        unavailable: What a 503 that is not "loading" means: back-pressure (`overloaded`) or,
            for local servers, a dead or draining engine (`server_error`).
        quota_statuses: Statuses of the provider's own that mean a used-up quota, like 402
            (Tavily's 432 and 433).
    """

    name: str
    headroom: tuple[tuple[str, str], ...] = ()
    bad_key_400: Callable[[Reply, ErrorInfo], bool] | None = None
    unavailable: Outcome = Outcome.OVERLOADED
    quota_statuses: frozenset[int] = frozenset()


PLAIN = Dialect("plain")
"""No provider-specific traps (the generic `http` kind)."""


def _ident(value: object) -> str | None:
    """A code-like value as a short string; anything else (prose, objects) is dropped."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value and len(value) <= 64 and " " not in value:
        return value
    return None


def error_info(body: bytes) -> ErrorInfo:
    """Extract the codes from an error body of any provider shape. Never raises.

    Shapes: OpenAI/Azure/OpenRouter/llama.cpp `{"error": {"code", "type", ...}}`, Anthropic
    `{"type": "error", "error": {"type"}}`, Google `{"error": {"code", "status", "details"}}`,
    Ollama/vLLM `{"error": "text"}`.

    Args:
        body: The body bytes.

    Returns:
        The codes found; empty when the body is not such a JSON object.
    """
    loading = b"loading model" in body.lower()
    obj = parse_json_object(body)
    if obj is None:
        return ErrorInfo(loading=True) if loading else _NO_INFO
    err = obj.get("error")
    if not isinstance(err, dict):
        return ErrorInfo(loading=loading)
    reasons: list[str] = []
    quota_ids: list[str] = []
    retry_delay: float | None = None
    details = err.get("details")
    if isinstance(details, list):
        for item in details:
            if not isinstance(item, dict):
                continue
            reason = _ident(item.get("reason"))
            if reason:
                reasons.append(reason)
            violations = item.get("violations")
            if isinstance(violations, list):
                quota_ids.extend(
                    q for v in violations if isinstance(v, dict) and (q := _ident(v.get("quotaId")))
                )
            delay = item.get("retryDelay")
            if isinstance(delay, str) and delay.endswith("s"):
                try:
                    retry_delay = min(max(float(delay[:-1]), 0.0), MAX_RETRY_AFTER)
                except ValueError:
                    retry_delay = None
    return ErrorInfo(
        code=_ident(err.get("code")),
        type=_ident(err.get("type")),
        status=_ident(err.get("status")),
        reasons=tuple(reasons),
        retry_delay=retry_delay,
        loading=loading,
        quota_ids=tuple(quota_ids),
    )


# --- statuses ----------------------------------------------------------------

_QUOTA_CODES = frozenset({"insufficient_quota", "billing_error", "billing_hard_limit_reached"})


def judge_error(  # noqa: PLR0912 - one branch per status class, in the order of PROVIDERS.md
    reply: Reply, dialect: Dialect, now: float, *, model: str | None = None
) -> Finding:
    """Classify a non-2xx answer of any provider kind.

    Args:
        reply: The answer.
        dialect: The kind's traps.
        now: Current Unix time (Retry-After dates).
        model: The upstream model name when the URL named one model (then 404 means that model
            does not exist); None for list and liveness URLs (then 404 means a wrong base URL).

    Returns:
        The judgement.
    """
    s = reply.status
    info = error_info(reply.body) if reply.body else _NO_INFO
    label = f"HTTP {s} {info.label}".rstrip()
    if s in (401, 403):
        return Finding(Outcome.AUTH_INVALID, label)
    if s == 400 and dialect.bad_key_400 is not None and dialect.bad_key_400(reply, info):
        # The Gemini trap: a bad key is a 400, not a 401. Other 400s are not about the key.
        return Finding(Outcome.AUTH_INVALID, label)
    if s == 402 or s in dialect.quota_statuses:
        return Finding(Outcome.QUOTA_EXHAUSTED, label)
    if s == 404:
        if model is not None:
            return Finding(Outcome.MODEL_NOT_FOUND, label, missing=frozenset((model,)))
        return Finding(Outcome.PROTOCOL_ERROR, f"{label} (wrong base URL or resource?)")
    retry = _retry_after(reply.headers, now)
    if s == 429:
        # The OpenAI trap: one status, two meanings. `insufficient_quota` will not pass by
        # waiting; `rate_limit_exceeded` will.
        if _QUOTA_CODES.intersection(info.tokens):
            return Finding(Outcome.QUOTA_EXHAUSTED, label)
        if any("PerDay" in q for q in info.quota_ids):
            # Gemini says RESOURCE_EXHAUSTED for a per-minute rate limit and for the daily
            # quota alike; only its QuotaFailure says which. A daily quota will not pass by
            # waiting seconds: the models go to standby until it resets.
            return Finding(Outcome.QUOTA_EXHAUSTED, f"{label} (daily quota)")
        if retry is None:
            retry = info.retry_delay
        headroom = rate_limit_headroom(reply.headers, dialect.headroom)
        return Finding(Outcome.RATE_LIMITED, label, retry, headroom)
    if s == 503:
        if info.loading:
            # The llama.cpp trap: 503 while the model loads is "not ready yet", not "down".
            return Finding(Outcome.LOADING, label if info.label else f"HTTP {s} loading model")
        return Finding(dialect.unavailable, label, retry)
    if s == 529:
        return Finding(Outcome.OVERLOADED, label, retry)
    if s == 408:
        return Finding(Outcome.TIMEOUT, label, retry)
    if 500 <= s <= 599:
        return Finding(Outcome.SERVER_ERROR, label, retry)
    if 300 <= s <= 399:
        return Finding(Outcome.PROTOCOL_ERROR, f"HTTP {s} redirect not followed")
    return Finding(Outcome.PROTOCOL_ERROR, f"{label} unexpected status")
