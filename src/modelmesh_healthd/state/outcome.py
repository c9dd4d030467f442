"""Probe outcome classes and what each one means for a provider.

The outcome vocabulary is the contract between the probes (which classify an HTTP exchange) and the
health core (which decides what the classification does). See docs/health-model.md.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DeactivationReason", "Effect", "Outcome", "as_outcome"]


class Outcome(StrEnum):
    """What one probe found out about a provider."""

    OK = "ok"
    """The provider answered correctly within the latency budget."""
    DEGRADED = "degraded"
    """The provider answered correctly, but slower than the configured latency budget."""
    RATE_LIMITED = "rate_limited"
    """The provider is up but asks us to back off (HTTP 429 rate limit, Retry-After)."""
    QUOTA_EXHAUSTED = "quota_exhausted"
    """The account has no quota or credit left (OpenAI `insufficient_quota`, Anthropic 402, ...)."""
    AUTH_INVALID = "auth_invalid"
    """The credentials were rejected (401/403, Gemini's 400 `API_KEY_INVALID`)."""
    MODEL_NOT_FOUND = "model_not_found"
    """The provider answered, but a configured model does not exist there."""
    LOADING = "loading"
    """A local server is still starting (llama.cpp 503 `Loading model`)."""
    OVERLOADED = "overloaded"
    """The provider is up but refusing work (503 overloaded, Anthropic 529)."""
    SERVER_ERROR = "server_error"
    """A 5xx answer other than overloaded."""
    TIMEOUT = "timeout"
    """No complete answer before the probe's deadline."""
    CONNECT_ERROR = "connect_error"
    """No connection: refused, reset, DNS failure, TLS failure."""
    PROTOCOL_ERROR = "protocol_error"
    """An answer we cannot read: garbage, truncated or unexpected body, unexpected status."""


class Effect(StrEnum):
    """What an outcome does to the provider's health."""

    SUCCESS = "success"
    """Counts as a success in the availability average."""
    FAILURE = "failure"
    """Counts as a failure in the availability average; down once the score drops below minimum."""
    FATAL = "fatal"
    """Counts as a failure and takes the provider down at once (bad key, exhausted quota)."""
    NEUTRAL = "neutral"
    """Leaves the availability average untouched (rate limits, a missing model)."""
    LOADING = "loading"
    """Neutral while the server is within its loading grace period, a failure after it."""


class DeactivationReason(StrEnum):
    """Why a model sits in standby. The first three belong to the provider-level rule."""

    PROVIDER_UNAVAILABLE = "provider_unavailable"
    AUTH_FAILURE = "auth_failure"
    QUOTA_EXHAUSTED = "quota_exhausted"
    MODEL_NOT_FOUND = "model_not_found"
    MODEL_OVERLOADED = "model_overloaded"
    """The model's own rung (Anthropic's `count_tokens`, ...) said overloaded; siblings stay."""
    MODEL_LOADING = "model_loading"
    """The model's own rung said it is still loading; siblings stay."""
    MANUAL = "manual"
    MAINTENANCE_WINDOW = "maintenance_window"
    """Held by an override (a drain or a scheduled window): ModelMesh's own word for it."""


PROVIDER_REASONS: frozenset[str] = frozenset(
    {
        DeactivationReason.PROVIDER_UNAVAILABLE,
        DeactivationReason.AUTH_FAILURE,
        DeactivationReason.QUOTA_EXHAUSTED,
    }
)
"""Reasons that the provider-level rule sets, and therefore the only ones recovery undoes."""

MODEL_REASONS: frozenset[str] = frozenset(
    {
        DeactivationReason.MODEL_NOT_FOUND,
        DeactivationReason.MODEL_OVERLOADED,
        DeactivationReason.MODEL_LOADING,
    }
)
"""Reasons a probe gives one model alone; only a later probe that finds the model fine undoes
them (the provider's recovery does not)."""

MODEL_OUTCOME_REASONS: dict[Outcome, DeactivationReason] = {
    Outcome.MODEL_NOT_FOUND: DeactivationReason.MODEL_NOT_FOUND,
    Outcome.OVERLOADED: DeactivationReason.MODEL_OVERLOADED,
    Outcome.LOADING: DeactivationReason.MODEL_LOADING,
}
"""A model's own outcome that puts it (alone) in standby, and the reason it gets."""


def as_outcome(value: Outcome | str) -> Outcome:
    """`Outcome(value)`, without the enum's call when `value` is one already (as a probe's is).

    The core converts each probe's outcome and each of its models' a few times per probe; the
    enum's own call is two Python-level calls even for a member.
    """
    return value if isinstance(value, Outcome) else Outcome(value)


def reason_for(outcome: Outcome) -> DeactivationReason:
    """The deactivation reason a failing outcome gives a provider's models."""
    if outcome is Outcome.AUTH_INVALID:
        return DeactivationReason.AUTH_FAILURE
    if outcome is Outcome.QUOTA_EXHAUSTED:
        return DeactivationReason.QUOTA_EXHAUSTED
    return DeactivationReason.PROVIDER_UNAVAILABLE
