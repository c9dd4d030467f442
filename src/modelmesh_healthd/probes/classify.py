"""Judging a provider's answer: pure functions from (status, headers, body) to an outcome.

No I/O and no clock here (the wall time needed to read a Retry-After date is a parameter), so
every rule is table-tested without sockets. PROVIDERS.md is the source of these rules; the traps
it names are called out where they are handled.

JSON is parsed only as far as a verdict needs: an error body only on an error status, a models
list only when models are to be checked. A 2xx body that must be a JSON object but is not (HTML,
garbage, a cut-off document) is `protocol_error`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

from modelmesh_healthd.probes.result import EMPTY_HEADROOM
from modelmesh_healthd.state.outcome import Outcome

__all__ = [
    "MAX_RETRY_AFTER",
    "ErrorInfo",
    "Judgement",
    "Reply",
    "error_info",
    "judge_error",
    "not_the_api",
    "parse_json_object",
    "parse_retry_after",
    "rate_limit_headroom",
]

MAX_RETRY_AFTER = 86_400.0
"""Retry-After values are capped at one day: a larger one is more likely a bug than a plan."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer, as far as judging goes.

    Attributes:
        status: HTTP status code.
        headers: Response headers; a case-insensitive mapping (httpx.Headers) or lower-case keys.
        body: The body bytes read (at most the target's cap).
        truncated: True when the body was longer than the cap and reading stopped there.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Judgement:
    """The verdict on one answer.

    Attributes:
        outcome: Provider-level outcome (`ok` when the answer is correct; models aside).
        detail: Short description built from codes, never from provider messages (they may
            echo part of a key).
        retry_after: Seconds to wait, when the provider said.
        headroom: Rate-limit or credit headroom, when the provider said.
        found: Upstream model names the answer shows to exist.
        missing: Upstream model names the answer shows not to exist.
    """

    outcome: Outcome
    detail: str | None = None
    retry_after: float | None = None
    headroom: Mapping[str, float] = field(default_factory=lambda: EMPTY_HEADROOM)
    found: frozenset[str] = frozenset()
    missing: frozenset[str] = frozenset()


OK = Judgement(Outcome.OK)


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


_OPENAI_HEADROOM = (
    ("x-ratelimit-remaining-requests", "requests"),
    ("x-ratelimit-remaining-tokens", "tokens"),
)
_ANTHROPIC_HEADROOM = (
    ("anthropic-ratelimit-requests-remaining", "requests"),
    ("anthropic-ratelimit-tokens-remaining", "tokens"),
    ("anthropic-ratelimit-input-tokens-remaining", "input_tokens"),
    ("anthropic-ratelimit-output-tokens-remaining", "output_tokens"),
)
HEADROOM_HEADERS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "openai": _OPENAI_HEADROOM,
    "azure-openai": _OPENAI_HEADROOM,
    "anthropic": _ANTHROPIC_HEADROOM,
}


def rate_limit_headroom(headers: Mapping[str, str], kind: str) -> Mapping[str, float]:
    """Read the rate-limit headroom headers a kind's provider sends, when present.

    Args:
        headers: Response headers.
        kind: Probe kind (decides which headers to look at).

    Returns:
        {"requests": n, "tokens": n, ...} for the headers present and numeric; often empty (the
        providers document these headers on inference responses, not on the models list).
    """
    names = HEADROOM_HEADERS.get(kind)
    if names is None:
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


def parse_json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None if it is not one (garbage, truncated, a list ...)."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return value if isinstance(value, dict) else None


def looks_like_json_object(body: bytes) -> bool:
    """A cheap check that a body is a JSON object, for answers whose content we do not need.

    It rejects HTML, plain text, empty and binary bodies without parsing; a body cut short is
    caught by the transport (Content-Length) or by a parse where content matters.
    """
    stripped = body.strip()
    return stripped[:1] == b"{" and stripped[-1:] == b"}"


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
_GOOGLE_BAD_KEY = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED"})


def judge_error(  # noqa: PLR0912 - one branch per status class, in the order of PROVIDERS.md
    reply: Reply, kind: str, now: float, *, model: str | None = None
) -> Judgement:
    """Classify a non-2xx answer of any provider kind.

    Args:
        reply: The answer.
        kind: Probe kind; decides the kind-specific traps.
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
        return Judgement(Outcome.AUTH_INVALID, label)
    if (
        s == 400
        and kind == "gemini"
        and (
            _GOOGLE_BAD_KEY.intersection(info.reasons)
            or (info.status == "INVALID_ARGUMENT" and not info.reasons and b"API key" in reply.body)
        )
    ):
        # The Gemini trap: a bad key is a 400, not a 401. Other 400s are not about the key.
        return Judgement(Outcome.AUTH_INVALID, label)
    if s == 402:
        return Judgement(Outcome.QUOTA_EXHAUSTED, label)
    if s == 404:
        if model is not None:
            return Judgement(Outcome.MODEL_NOT_FOUND, label, missing=frozenset((model,)))
        return Judgement(Outcome.PROTOCOL_ERROR, f"{label} (wrong base URL or resource?)")
    retry = _retry_after(reply.headers, now)
    if s == 429:
        # The OpenAI trap: one status, two meanings. `insufficient_quota` will not pass by
        # waiting; `rate_limit_exceeded` will.
        if _QUOTA_CODES.intersection(info.tokens):
            return Judgement(Outcome.QUOTA_EXHAUSTED, label)
        if any("PerDay" in q for q in info.quota_ids):
            # Gemini says RESOURCE_EXHAUSTED for a per-minute rate limit and for the daily
            # quota alike; only its QuotaFailure says which. A daily quota will not pass by
            # waiting seconds: the models go to standby until it resets.
            return Judgement(Outcome.QUOTA_EXHAUSTED, f"{label} (daily quota)")
        if retry is None:
            retry = info.retry_delay
        headroom = rate_limit_headroom(reply.headers, kind)
        return Judgement(Outcome.RATE_LIMITED, label, retry, headroom)
    if s == 503:
        if info.loading:
            # The llama.cpp trap: 503 while the model loads is "not ready yet", not "down".
            return Judgement(Outcome.LOADING, label if info.label else f"HTTP {s} loading model")
        if kind == "local":
            # vLLM answers 503 when its engine is dead or draining: an outage, not back-pressure.
            return Judgement(Outcome.SERVER_ERROR, label, retry)
        return Judgement(Outcome.OVERLOADED, label, retry)
    if s == 529:
        return Judgement(Outcome.OVERLOADED, label, retry)
    if s == 408:
        return Judgement(Outcome.TIMEOUT, label, retry)
    if 500 <= s <= 599:
        return Judgement(Outcome.SERVER_ERROR, label, retry)
    if 300 <= s <= 399:
        return Judgement(Outcome.PROTOCOL_ERROR, f"HTTP {s} redirect not followed")
    return Judgement(Outcome.PROTOCOL_ERROR, f"{label} unexpected status")


_MISLEADING = frozenset({Outcome.PROTOCOL_ERROR, Outcome.MODEL_NOT_FOUND})


def not_the_api(reply: Reply, kind: str, judgement: Judgement) -> Judgement:
    """Say so when the answer behind a failed judgement is not from a `kind` API at all.

    Every provider API answers in JSON, errors included; an HTML page or plain text behind a
    404 or an unreadable body means the base URL reaches some other server (a web page, a proxy's
    error page, another program on that port). Then a "model not found" would mislead: the
    verdict becomes `protocol_error` with a detail that names the likely cause. The generic
    `http` kind has no expected body, so it is left alone.

    Args:
        reply: The answer.
        kind: Probe kind.
        judgement: The judge's verdict on it.

    Returns:
        `judgement`, or the protocol error saying the base URL is not the API.
    """
    if kind == "http" or reply.truncated or judgement.outcome not in _MISLEADING:
        return judgement
    body = reply.body.lstrip()
    if not body:
        return judgement
    if body[:1] in (b"{", b"["):
        # JSON: the API's own unless a "model not found" 404 lacks every provider's error
        # object (`{"detail": "Not Found"}` is a web framework's route 404, not a model's).
        obj = parse_json_object(body) if judgement.outcome is Outcome.MODEL_NOT_FOUND else None
        if reply.status != 404 or obj is None or "error" in obj:
            return judgement
        what = "JSON without an error object"
    else:
        content_type = str(reply.headers.get("content-type", "")).split(";")[0].strip().lower()
        html = content_type == "text/html" or body[:1] == b"<"
        what = "an HTML page" if html else f"{content_type or 'a body'} that is not JSON"
    return Judgement(
        Outcome.PROTOCOL_ERROR,
        f"HTTP {reply.status} {what}: not the {kind} API (wrong base URL, or another server "
        "on that port?)",
    )


def models_judgement(
    names: frozenset[str], wanted: tuple[str, ...], *, complete: bool = True
) -> Judgement:
    """The verdict on a models list that lists `names`, for the `wanted` upstream models.

    Args:
        names: The model names the provider listed.
        wanted: The upstream names to check.
        complete: Whether the list is the whole list (no further page). When it is not, a name
            not seen is left unjudged rather than called missing.

    Returns:
        `ok` with `found`, or `model_not_found` with `found` and `missing`.
    """
    found = frozenset(w for w in wanted if w in names)
    if not complete:
        return Judgement(Outcome.OK, found=found)
    missing = frozenset(w for w in wanted if w not in names)
    if missing:
        detail = "model not listed: " + ", ".join(sorted(missing))
        return Judgement(Outcome.MODEL_NOT_FOUND, detail[:200], found=found, missing=missing)
    return Judgement(Outcome.OK, found=found)
