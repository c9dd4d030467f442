"""HealthPolicy: the thresholds and outcome rules behind every health decision.

The defaults are chosen so that, starting from a healthy provider (score 1.0):

* one failed probe does not take it down (score 0.75);
* a hard outage does within three probes (0.75, 0.56, 0.42 < 0.5);
* a rejected key or exhausted quota does at once;
* a rate limit never does (nor does a missing model: the provider itself answered);
* recovery needs the score back above 0.75 *and* two successes in a row, so one lucky success
  during an outage does not bring the provider back.

docs/health-model.md walks through a timeline with these numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from modelmesh_healthd.state.outcome import Effect, Outcome

__all__ = ["DEFAULT_EFFECTS", "DEFAULT_POLICY", "HealthPolicy", "PolicyError"]

DEFAULT_EFFECTS: Mapping[Outcome, Effect] = MappingProxyType(
    {
        Outcome.OK: Effect.SUCCESS,
        Outcome.DEGRADED: Effect.SUCCESS,
        Outcome.RATE_LIMITED: Effect.NEUTRAL,
        Outcome.QUOTA_EXHAUSTED: Effect.FATAL,
        Outcome.AUTH_INVALID: Effect.FATAL,
        # The provider answered and accepted the key; only the model is missing (model_outcomes
        # puts that one model in standby). As a success, it lets a down provider recover.
        Outcome.MODEL_NOT_FOUND: Effect.SUCCESS,
        Outcome.LOADING: Effect.LOADING,
        Outcome.OVERLOADED: Effect.FAILURE,
        Outcome.SERVER_ERROR: Effect.FAILURE,
        Outcome.TIMEOUT: Effect.FAILURE,
        Outcome.CONNECT_ERROR: Effect.FAILURE,
        Outcome.PROTOCOL_ERROR: Effect.FAILURE,
    }
)
"""What each outcome class does by default (the table in PROVIDERS.md)."""


class PolicyError(ValueError):
    """A HealthPolicy whose numbers contradict each other.

    Attributes:
        field: The field whose value is wrong.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """Thresholds and rules for turning probe outcomes into provider health.

    Attributes:
        ema_alpha: Weight of the newest probe in the availability score's exponential moving
            average, in (0, 1]. Higher reacts faster and forgets faster.
        min_availability: A provider whose score drops below this is down (and not healthy).
        recovery_threshold: A down provider comes back only once its score is at least this high.
            Must be at least `min_availability`; the gap between the two is the hysteresis.
        recovery_successes: ...and only after this many consecutive successful probes.
        loading_grace: Seconds a server may keep answering "loading" before that counts as a
            failure (a model load that never finishes is an outage).
        effects: What each outcome class does; outcomes not listed keep their default effect.
        degraded_factor: A probe over this many times the provider's latency baseline is slow.
        degraded_floor: ...and only when over this many seconds (tiny baselines jitter).
        latency_alpha: Weight of the newest answered probe in the latency baseline (EMA).
        latency_warmup: Answered probes before the baseline is trusted.
        degraded_streak: Slow (or, while degraded, fast) probes in a row that flip `degraded`.
    """

    ema_alpha: float = 0.25
    min_availability: float = 0.5
    recovery_threshold: float = 0.75
    recovery_successes: int = 2
    loading_grace: float = 600.0
    effects: Mapping[Outcome, Effect] = field(default_factory=lambda: DEFAULT_EFFECTS, hash=False)
    degraded_factor: float = 3.0
    degraded_floor: float = 0.25
    latency_alpha: float = 0.2
    latency_warmup: int = 5
    degraded_streak: int = 2

    def __post_init__(self) -> None:
        if not 0.0 < self.ema_alpha <= 1.0:
            raise PolicyError("ema_alpha", f"ema_alpha must be in (0, 1], got {self.ema_alpha}")
        if not 0.0 < self.min_availability < 1.0:
            raise PolicyError(
                "min_availability",
                f"min_availability must be in (0, 1), got {self.min_availability}",
            )
        # A moving average never reaches 1.0 exactly unless it has no memory (alpha = 1).
        ceiling_ok = self.recovery_threshold < 1.0 or self.ema_alpha == 1.0
        if not (self.min_availability <= self.recovery_threshold <= 1.0 and ceiling_ok):
            raise PolicyError(
                "recovery_threshold",
                "recovery_threshold must be at least min_availability "
                f"({self.min_availability}) and below 1, got {self.recovery_threshold}",
            )
        if self.recovery_successes < 1:
            raise PolicyError(
                "recovery_successes",
                f"recovery_successes must be at least 1, got {self.recovery_successes}",
            )
        if self.loading_grace < 0:
            raise PolicyError(
                "loading_grace", f"loading_grace must not be negative, got {self.loading_grace}"
            )
        self._check_latency()
        merged = dict(DEFAULT_EFFECTS)
        merged.update({Outcome(k): Effect(v) for k, v in self.effects.items()})
        object.__setattr__(self, "effects", MappingProxyType(merged))

    def _check_latency(self) -> None:
        if not self.degraded_factor > 1.0:
            raise PolicyError(
                "degraded_factor", f"degraded_factor must be above 1, got {self.degraded_factor}"
            )
        if self.degraded_floor < 0:
            raise PolicyError(
                "degraded_floor", f"degraded_floor must not be negative, got {self.degraded_floor}"
            )
        if not 0.0 < self.latency_alpha <= 1.0:
            raise PolicyError(
                "latency_alpha", f"latency_alpha must be in (0, 1], got {self.latency_alpha}"
            )
        for name in ("latency_warmup", "degraded_streak"):
            if getattr(self, name) < 1:
                raise PolicyError(name, f"{name} must be at least 1, got {getattr(self, name)}")

    def effect_of(self, outcome: Outcome) -> Effect:
        """The effect this policy gives an outcome class."""
        return self.effects[outcome]

    def failures_to_down(self, score: float = 1.0) -> int:
        """How many consecutive FAILURE probes take a provider at `score` below the minimum.

        Returns:
            The count; 0 if the score is already below the minimum.
        """
        if score < self.min_availability:
            return 0
        if self.ema_alpha == 1.0:
            return 1
        # score * (1 - a)^n < min  <=>  n > log(min / score) / log(1 - a)
        n = math.floor(math.log(self.min_availability / score) / math.log(1.0 - self.ema_alpha)) + 1
        return max(n, 1)

    def successes_to_up(self, score: float = 0.0) -> int:
        """How many consecutive successes bring a down provider at `score` back up.

        Returns:
            The count, at least `recovery_successes`.
        """
        s, n = score, 0
        while s < self.recovery_threshold or n < self.recovery_successes:
            s = self.ema_alpha + (1.0 - self.ema_alpha) * s
            n += 1
        return n


DEFAULT_POLICY = HealthPolicy()
"""The policy used wherever none is given."""
