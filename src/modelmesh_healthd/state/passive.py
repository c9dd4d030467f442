"""Passive evidence: what a router's real requests say about a provider (Envoy's outlier detection).

A router (ModelMesh with `attach`) reports the outcome of each request it sent. Those reports never
change a provider's health by themselves: they can only *accuse* it, and an accused provider is
probed at once, so the active probe confirms or clears the accusation. Two rules accuse, as in
Envoy's `consecutive_5xx` and `failure_percentage` detectors:

* `consecutive_failures` failed requests in a row;
* a failure rate of at least `failure_rate` over the last `window` seconds, once that window holds
  at least `min_requests` requests (so one failure out of two requests accuses nobody).

A request's outcome is classified like a probe's (`HealthPolicy.effect_of`): successes clear the
run of failures, failures (fatal ones too) count against the provider, neutral outcomes (rate
limits) and loading are left out. After an accusation the evidence starts afresh, and the same
provider is not accused again for `cooldown` seconds: one probe answers one accusation.

Pure: no I/O, no clock; every function takes `now`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from modelmesh_healthd.state.model import ModelState
from modelmesh_healthd.state.outcome import Effect, Outcome
from modelmesh_healthd.state.policy import DEFAULT_POLICY, HealthPolicy, PolicyError
from modelmesh_healthd.state.provider import ProviderState

__all__ = ["Accusation", "PassiveEvidence", "PassivePolicy", "add_usage"]


@dataclass(frozen=True, slots=True)
class PassivePolicy:
    """The numbers of the two accusation rules.

    Attributes:
        consecutive_failures: Failed requests in a row that accuse a provider (0: rule off).
        window: Seconds of requests the failure-rate rule looks at.
        min_requests: Requests the window must hold before the rate rule may accuse.
        failure_rate: Failed share of the window's requests that accuses (0.0-1.0).
        cooldown: Seconds after an accusation during which the provider is not accused again.
    """

    consecutive_failures: int = 5
    window: float = 30.0
    min_requests: int = 10
    failure_rate: float = 0.5
    cooldown: float = 5.0

    def __post_init__(self) -> None:
        if self.consecutive_failures < 0:
            raise PolicyError("consecutive_failures", "consecutive_failures must be >= 0")
        if self.window <= 0:
            raise PolicyError("window", "window must be > 0 seconds")
        if self.min_requests < 1:
            raise PolicyError("min_requests", "min_requests must be >= 1")
        if not 0.0 < self.failure_rate <= 1.0:
            raise PolicyError("failure_rate", "failure_rate must be in (0, 1]")
        if self.cooldown < 0:
            raise PolicyError("cooldown", "cooldown must be >= 0 seconds")


@dataclass(frozen=True, slots=True)
class Accusation:
    """Passive evidence accuses a provider: probe it now.

    Attributes:
        rule: `consecutive_failures` or `failure_rate`.
        failures: Failures that the rule counted.
        requests: Requests that the rule looked at.
    """

    rule: str
    failures: int
    requests: int


@dataclass(slots=True)
class PassiveEvidence:
    """One provider's recent request outcomes, as reported by routers."""

    consecutive: int = 0
    """Failed requests in a row."""
    recent: deque[tuple[float, bool]] = field(default_factory=deque)
    """(time, failed) of each counted request inside the window, oldest first."""
    accused_at: float | None = None
    """When this provider was last accused (for the cooldown)."""

    def observe(
        self,
        outcome: Outcome,
        at: float,
        now: float,
        *,
        passive: PassivePolicy,
        policy: HealthPolicy = DEFAULT_POLICY,
    ) -> Accusation | None:
        """Count one reported request; say whether the provider stands accused now.

        Args:
            outcome: The request's outcome class.
            at: When the request finished (Unix time, as the router saw it).
            now: The current time (Unix).
            passive: The accusation rules.
            policy: Classifies the outcome as a probe's would be.

        Returns:
            An accusation when a rule fires (the evidence then starts afresh), else None.
        """
        self._forget_before(now - passive.window)
        effect = policy.effect_of(outcome)
        if effect in (Effect.NEUTRAL, Effect.LOADING):
            return None
        failed = effect in (Effect.FAILURE, Effect.FATAL)
        self.consecutive = self.consecutive + 1 if failed else 0
        if at >= now - passive.window:
            self.recent.append((min(at, now), failed))
        if self.accused_at is not None and now - self.accused_at < passive.cooldown:
            return None
        accusation = self._rule_fired(passive)
        if accusation is not None:
            self.accused_at = now
            self.consecutive = 0
            self.recent.clear()
        return accusation

    def _forget_before(self, cutoff: float) -> None:
        # Reports from several routers arrive out of order: drop by time, not by position only.
        if any(at < cutoff for at, _ in self.recent):
            self.recent = deque(item for item in self.recent if item[0] >= cutoff)

    def _rule_fired(self, passive: PassivePolicy) -> Accusation | None:
        if passive.consecutive_failures and self.consecutive >= passive.consecutive_failures:
            return Accusation("consecutive_failures", self.consecutive, self.consecutive)
        total = len(self.recent)
        if total >= passive.min_requests:
            failures = sum(1 for _, failed in self.recent if failed)
            if failures >= passive.failure_rate * total:
                return Accusation("failure_rate", failures, total)
        return None


def add_usage(
    provider: ProviderState, model: ModelState | None, *, tokens: int, cost: float | None
) -> None:
    """Count one request a router reported as served.

    ModelMesh counts quota in requests (a connector's `check_quota` is its request count), so
    one served request is one unit of `total_quota_used` / `quota_used`; tokens go to the
    model's `tokens_used`; a known cost to `total_cost` / `cost_accumulated`.

    Args:
        provider: The provider that served it.
        model: The model that served it, when the daemon knows it.
        tokens: Tokens the request used (0 when unknown).
        cost: Its cost, when the router knew the model's pricing.
    """
    provider.total_quota_used += 1
    provider.total_cost += cost or 0.0
    if model is not None:
        model.quota_used += 1
        model.tokens_used += tokens
        model.cost_accumulated += cost or 0.0
