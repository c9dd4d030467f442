"""ProviderState: per-provider aggregate health, as specified by ModelMesh.

The seven seed fields, their names, types, defaults and the four seed methods are fixed by the
ModelMesh contract. The fields after them are this daemon's additions; `to_dict` writes them and
`from_dict` reads them when present, so a ModelMesh-written dict loads and ours round-trips.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from time import time as _wall_clock
from typing import Any

from modelmesh_healthd.state._codec import decode_fields
from modelmesh_healthd.state.outcome import Effect, Outcome, reason_for
from modelmesh_healthd.state.policy import DEFAULT_POLICY, HealthPolicy

__all__ = ["ProviderState"]


@dataclass(slots=True)
class ProviderState:
    """Per-provider aggregate health tracking."""

    available: bool = True
    """Provider is operational."""

    auth_valid: bool = True
    """Authentication is valid."""

    last_probe: float | None = None
    """Unix timestamp of last health probe."""

    availability_score: float = 1.0
    """Rolling availability score (0.0-1.0)."""

    active_model_count: int = 0
    """Number of active models from this provider."""

    total_quota_used: int = 0
    """Aggregate quota consumption across all models."""

    total_cost: float = 0.0
    """Aggregate cost across all models (USD)."""

    # --- additions of this daemon -----------------------------------------

    consecutive_failures: int = 0
    """Failures (FAILURE or FATAL effects) since the last success."""

    consecutive_successes: int = 0
    """Successes since the last failure."""

    last_outcome: str | None = None
    """Outcome class of the last probe (see `Outcome`)."""

    last_latency: float | None = None
    """Latency of the last probe in seconds, when it got an answer."""

    last_detail: str | None = None
    """Short, secret-free description of the last probe's answer."""

    down_reason: str | None = None
    """While unavailable: the deactivation reason given to the provider's models."""

    changed_at: float | None = None
    """Unix timestamp of the last up/down transition."""

    throttled_until: float | None = None
    """Unix timestamp before which the provider asked not to be probed (Retry-After)."""

    loading_since: float | None = None
    """Unix timestamp of the first of the current run of `loading` answers."""

    degraded: bool = False
    """Answering, but slowly (see `state.latency`): still active, visible to routers."""

    degraded_since: float | None = None
    """Unix timestamp at which it became degraded; None while not degraded."""

    latency_baseline: float | None = None
    """Exponential moving average of its answered probes' latency, in seconds."""

    latency_samples: int = 0
    """Answered probes the baseline has seen."""

    ttft_baseline: float | None = None
    """Exponential moving average of the canary's time to first token, in seconds (a
    completion is slower than a models list: it has a baseline of its own)."""

    ttft_samples: int = 0
    """Canary answers the time-to-first-token baseline has seen."""

    latency_streak: int = 0
    """Probes in a row whose speed disagrees with `degraded` (the flag flips at a threshold)."""

    # --- query methods ----------------------------------------------------

    def is_healthy(self, policy: HealthPolicy = DEFAULT_POLICY) -> bool:
        """Return True if the provider is available and authenticated.

        A provider is healthy when both `available` and `auth_valid` are
        True and the availability score is above the minimum threshold.

        Args:
            policy: Supplies the minimum threshold (`min_availability`).

        Returns:
            True if the provider is considered healthy.
        """
        return (
            self.available
            and self.auth_valid
            and self.availability_score >= policy.min_availability
        )

    # --- mutation methods -------------------------------------------------

    def record_probe(
        self,
        success: bool,
        latency: float | None = None,
        *,
        now: float | None = None,
        outcome: Outcome | None = None,
        policy: HealthPolicy = DEFAULT_POLICY,
    ) -> None:
        """Record a health probe result.

        Updates the availability score using an exponential moving average.
        Sets `available` to False if the score drops below the minimum
        threshold.

        Args:
            success: Whether the probe succeeded. Ignored when `outcome` is given, whose class
                decides instead (a rate limit, for instance, is neither).
            latency: Probe response latency in seconds (if available).
            now: Unix timestamp of the probe. The daemon always passes it; when omitted (the seed's
                two-argument form) the wall clock is read here, the one clock read of `state/`.
            outcome: Outcome class of the probe; its effect comes from `policy`.
            policy: Thresholds and outcome rules.
        """
        if now is None:
            now = _wall_clock()
        if outcome is not None:
            effect = policy.effect_of(outcome)
        else:
            effect = Effect.SUCCESS if success else Effect.FAILURE
        self.last_probe = now
        # `.value` is the member's own string; `str(outcome)` would be a new copy per probe.
        self.last_outcome = outcome.value if outcome is not None else None
        self.last_latency = latency

        if effect is Effect.LOADING:
            if self.loading_since is None:
                self.loading_since = now
            effect = (
                Effect.NEUTRAL
                if now - self.loading_since < policy.loading_grace
                else (Effect.FAILURE)
            )
        else:
            self.loading_since = None

        if effect is Effect.NEUTRAL:
            return

        ok = effect is Effect.SUCCESS
        score = policy.ema_alpha * (1.0 if ok else 0.0) + (1.0 - policy.ema_alpha) * (
            self.availability_score
        )
        self.availability_score = min(1.0, max(0.0, score))

        if ok:
            self.consecutive_successes += 1
            self.consecutive_failures = 0
            # Every probe kind proves the credentials when it succeeds.
            self.auth_valid = True
            if (
                not self.available
                and self.availability_score >= policy.recovery_threshold
                and self.consecutive_successes >= policy.recovery_successes
            ):
                self.available = True
                self.down_reason = None
                self.changed_at = now
            return

        self.consecutive_failures += 1
        self.consecutive_successes = 0
        if outcome is Outcome.AUTH_INVALID:
            self.auth_valid = False
        if effect is Effect.FATAL or self.availability_score < policy.min_availability:
            if self.available:
                self.available = False
                self.changed_at = now
            self.down_reason = str(reason_for(outcome or Outcome.SERVER_ERROR))

    # --- serialization ----------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Serialize the state to a dictionary for persistence.

        Returns:
            Dictionary representation of all state fields.
        """
        return {name: getattr(self, name) for name in _FIELD_NAMES}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProviderState:
        """Deserialize a state from a dictionary.

        Accepts the snake_case keys of `to_dict()` and the camelCase keys of ModelMesh's
        TypeScript variant (`authValid`, `lastProbe`, `availabilityScore`, ...). Unknown keys
        are ignored, so a newer writer's extra fields do not break an older reader.

        Args:
            data: Dictionary previously produced by to_dict().

        Returns:
            A restored ProviderState instance.

        Raises:
            ValueError: A known field holds a value of the wrong type or out of range.
        """
        state = decode_fields(cls, data, "provider")
        if not 0.0 <= state.availability_score <= 1.0:
            raise ValueError(
                f"provider field 'availability_score' must be in [0, 1], "
                f"got {state.availability_score!r}"
            )
        return state


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(ProviderState))
