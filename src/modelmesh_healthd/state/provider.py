"""ProviderState: per-provider aggregate health, as specified by ModelMesh.

The seven seed fields, their names, types, defaults and the four seed methods are fixed by the
ModelMesh contract. The fields after them are this daemon's additions; `to_dict` writes them and
`from_dict` reads them when present, so a ModelMesh-written dict loads and ours round-trips.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from time import time as _wall_clock
from typing import Any, NamedTuple

from modelmesh_healthd.state._codec import decode_fields
from modelmesh_healthd.state.outcome import Effect, Outcome, reason_for
from modelmesh_healthd.state.policy import DEFAULT_POLICY, HealthPolicy

__all__ = ["ProbeChange", "ProviderState", "plan_probe"]


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

    override_until: float | None = None
    """While an override (drain, maintenance window) holds it: Unix time the override ends."""

    override_reason: str | None = None
    """The operator's stated reason for the override."""

    override_set_at: float | None = None
    """Unix time the override was set."""

    override_source: str | None = None
    """Who set it: `operator` (drain) or `schedule:<window>` (a configured window)."""

    canary_day: int | None = None
    """The UTC day (days since the Unix epoch) the canary spend below is for (`state.spend`);
    None before the first canary. Kept in the provider's row so a restart, or the replica that
    takes the provider over, carries on from it instead of from zero."""

    canary_usd: float = 0.0
    """USD the canary committed that day: what it spent, plus the worst case of any canary
    reserved and not yet settled (a crash after sending leaves the worst case counted)."""

    canary_tokens: int = 0
    """Tokens the canary committed that day, counted as `canary_usd` is."""

    canary_exhausted: bool = False
    """The daily budget refused a canary that day: the canary stopped until 00:00 UTC."""

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
        plan_probe(self, success, outcome, now, policy).apply(self, now, outcome, latency)

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


class ProbeChange(NamedTuple):
    """What recording one probe does to a provider: decided once by `plan_probe`, then applied.

    The connectivity guard reads a change before it is applied (would it take a healthy provider
    down?), so the rule is worked out once and either applied or dropped, never run twice.

    Attributes:
        effect: The probe's effect, the loading grace resolved (never `LOADING`).
        loading_since: The provider's `loading_since` after this probe.
        score: The availability score after it.
        available: `available` after it.
        auth_valid: `auth_valid` after it.
        fails: A failure that sets (or keeps) the provider down: fatal, or the score below minimum.
    """

    effect: Effect
    loading_since: float | None
    score: float
    available: bool
    auth_valid: bool
    fails: bool

    def healthy(self, policy: HealthPolicy = DEFAULT_POLICY) -> bool:
        """`ProviderState.is_healthy` as it will answer once this change is applied."""
        return self.available and self.auth_valid and self.score >= policy.min_availability

    def apply(
        self,
        state: ProviderState,
        now: float,
        outcome: Outcome | None,
        latency: float | None,
    ) -> None:
        """Write this change, and the probe's own facts, into `state` (the one mutation)."""
        state.last_probe = now
        # `.value` is the member's own string; `str(outcome)` would be a new copy per probe.
        state.last_outcome = outcome.value if outcome is not None else None
        state.last_latency = latency
        state.loading_since = self.loading_since
        if self.effect is Effect.NEUTRAL:
            return
        state.availability_score = self.score
        state.auth_valid = self.auth_valid
        if self.effect is Effect.SUCCESS:
            state.consecutive_successes += 1
            state.consecutive_failures = 0
            if self.available and not state.available:
                state.available = True
                state.down_reason = None
                state.changed_at = now
            return
        state.consecutive_failures += 1
        state.consecutive_successes = 0
        if self.fails:
            if state.available:
                state.available = False
                state.changed_at = now
            state.down_reason = str(reason_for(outcome or Outcome.SERVER_ERROR))


def plan_probe(
    state: ProviderState,
    success: bool,
    outcome: Outcome | None,
    now: float,
    policy: HealthPolicy = DEFAULT_POLICY,
) -> ProbeChange:
    """Decide what one probe does to `state`, without changing it.

    The rule of `ProviderState.record_probe`: an exponential moving average of success; down
    when a failure is fatal or drops the score below `min_availability`; back up only once the
    score reaches `recovery_threshold` with `recovery_successes` successes in a row.

    Args:
        state: The provider before the probe.
        success: The seed's flag, used when `outcome` is None.
        outcome: The probe's outcome class; its effect comes from `policy`.
        now: Unix timestamp of the probe.
        policy: Thresholds and outcome rules.

    Returns:
        The change, to `apply` or to drop.
    """
    if outcome is not None:
        effect = policy.effect_of(outcome)
    else:
        effect = Effect.SUCCESS if success else Effect.FAILURE
    loading_since = None
    if effect is Effect.LOADING:
        loading_since = now if state.loading_since is None else state.loading_since
        effect = Effect.NEUTRAL if now - loading_since < policy.loading_grace else Effect.FAILURE
    if effect is Effect.NEUTRAL:
        return ProbeChange(
            effect,
            loading_since,
            state.availability_score,
            state.available,
            state.auth_valid,
            fails=False,
        )
    ok = effect is Effect.SUCCESS
    alpha = policy.ema_alpha
    score = min(
        1.0, max(0.0, alpha * (1.0 if ok else 0.0) + (1.0 - alpha) * state.availability_score)
    )
    if ok:
        recovers = (
            score >= policy.recovery_threshold
            and state.consecutive_successes + 1 >= policy.recovery_successes
        )
        return ProbeChange(effect, loading_since, score, state.available or recovers, True, False)
    fails = effect is Effect.FATAL or score < policy.min_availability
    auth_valid = False if outcome is Outcome.AUTH_INVALID else state.auth_valid
    return ProbeChange(
        effect, loading_since, score, state.available and not fails, auth_valid, fails
    )
