"""Degraded, not down: a provider slower than its budget or than its own baseline.

Pure: the provider's latency memory, one probe's latency and the policy in; the probe's outcome
(`ok` or `degraded`) and any `provider.degraded` / `provider.recovered` event out. Slowness
changes no model's status: a degraded provider stays active and visible as such to routers
(state, events, metrics). Only `health.outcomes: {degraded: failure}` makes slow probes count
against availability, and then through the ordinary score and thresholds.

The baseline is an exponential moving average of the provider's own answered-probe latency
(docs/health-model.md "Degraded"): cheap, one float per provider, and quick to learn. A probe
is slow when it went over `degraded_after` (the probe says so with outcome `degraded`) or, once
the baseline has `latency_warmup` samples, over `degraded_factor` times the baseline and over
`degraded_floor` (so a 2 ms local server is not "degraded" at 7 ms). Slow samples still move
the baseline, at a quarter of the weight: a lasting shift (a new region, a bigger model) becomes
the new normal after a while instead of reading as degraded for ever, but one slow spell does
not teach the baseline to expect it. `degraded_streak` slow probes in a row make the provider
degraded; as many fast ones in a row bring it back (no flapping on one noisy answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modelmesh_healthd.state.events import (
    Event,
    ModelDegraded,
    ModelRecovered,
    ProviderDegraded,
    ProviderRecovered,
)
from modelmesh_healthd.state.model import ModelState
from modelmesh_healthd.state.outcome import Outcome
from modelmesh_healthd.state.policy import HealthPolicy
from modelmesh_healthd.state.provider import ProviderState

__all__ = [
    "LatencySource",
    "LatencyVerdict",
    "judge_latency",
    "latency_step",
    "model_latency_step",
]

LatencySource = Literal["probe", "ttft"]
"""Whose latency: a probe's (models list, rungs) or the canary's time to first token. Each has
its own baseline; both feed the one `degraded` flag."""

_ANSWERED = frozenset({Outcome.OK, Outcome.DEGRADED})
_SLOW_WEIGHT = 0.25
"""Share of the baseline's weight a slow sample gets."""


@dataclass(frozen=True, slots=True)
class LatencyVerdict:
    """Whether one answered probe was slow, and why.

    Attributes:
        slow: Over `degraded_after`, or over k times the baseline (and the floor).
        why: `over degraded_after` or `3.4x baseline`; None when not slow.
    """

    slow: bool
    why: str | None = None


def judge_latency(
    baseline: float | None,
    samples: int,
    latency: float,
    *,
    over_budget: bool,
    policy: HealthPolicy,
) -> LatencyVerdict:
    """Judge one answered probe's latency against the budget and the provider's baseline.

    Args:
        baseline: The provider's latency EMA in seconds, None before its first answer.
        samples: How many answered probes the baseline has seen.
        latency: This probe's latency in seconds.
        over_budget: The probe went over the provider's `degraded_after`.
        policy: `degraded_factor`, `degraded_floor`, `latency_warmup`.

    Returns:
        The verdict.
    """
    if over_budget:
        return LatencyVerdict(True, "over degraded_after")
    if baseline is None or samples < policy.latency_warmup or baseline <= 0.0:
        return LatencyVerdict(False)
    if latency > policy.degraded_floor and latency > policy.degraded_factor * baseline:
        return LatencyVerdict(True, f"{latency / baseline:.1f}x baseline")
    return LatencyVerdict(False)


def latency_step(
    ps: ProviderState,
    provider: str,
    outcome: Outcome,
    latency: float | None,
    *,
    now: float,
    policy: HealthPolicy,
    source: LatencySource = "probe",
) -> tuple[Outcome, list[Event]]:
    """Fold one probe's latency into `ps` (mutated) and say what it means.

    Args:
        ps: The provider's state: its baseline, streak and degraded flag change here.
        provider: Its id, for the events.
        outcome: The probe's outcome; only answered ones (`ok`, `degraded`) are judged.
        latency: The probe's latency in seconds, None without an answer.
        now: Unix time of the probe.
        policy: The thresholds.
        source: Which baseline `latency` is judged against and folded into.

    Returns:
        The outcome to record (`degraded` for a slow answer, else `outcome` unchanged) and the
        events: `provider.degraded` or `provider.recovered` when the streak flips the flag.
    """
    if outcome not in _ANSWERED or latency is None:
        return outcome, []
    if source == "ttft":
        base, samples = ps.ttft_baseline, ps.ttft_samples
    else:
        base, samples = ps.latency_baseline, ps.latency_samples
    verdict = judge_latency(
        base, samples, latency, over_budget=outcome is Outcome.DEGRADED, policy=policy
    )
    weight = policy.latency_alpha * (_SLOW_WEIGHT if verdict.slow else 1.0)
    learned = latency if base is None else base + weight * (latency - base)
    if source == "ttft":
        ps.ttft_baseline, ps.ttft_samples = learned, samples + 1
    else:
        ps.latency_baseline, ps.latency_samples = learned, samples + 1
    ps.latency_streak = ps.latency_streak + 1 if verdict.slow != ps.degraded else 0
    events: list[Event] = []
    if ps.latency_streak >= policy.degraded_streak:
        ps.latency_streak = 0
        ms = round(latency * 1000.0, 1)
        if verdict.slow:
            ps.degraded, ps.degraded_since = True, now
            base_ms = None if base is None else round(base * 1000.0, 1)
            events.append(ProviderDegraded(provider, ms, base_ms, verdict.why or "slow"))
        else:
            since = ps.degraded_since
            ps.degraded, ps.degraded_since = False, None
            events.append(
                ProviderRecovered(provider, ms, None if since is None else round(now - since, 3))
            )
    return (Outcome.DEGRADED if verdict.slow else Outcome.OK), events


def model_latency_step(
    ms: ModelState,
    model: str,
    provider: str,
    latency: float,
    *,
    over_budget: bool,
    now: float,
    policy: HealthPolicy,
) -> list[Event]:
    """Fold one model's canary time to first token into `ms` (mutated): the model's own
    degraded flag, against the model's own baseline, by the same rule as a provider's.

    Args:
        ms: The model's state: its baseline, streak and degraded flag change here.
        model: Its mesh id, for the events.
        provider: Its provider, for the events.
        latency: Seconds to its first token.
        over_budget: Over its provider's `degraded_after`.
        now: Unix time of the answer.
        policy: The thresholds.

    Returns:
        `model.degraded` or `model.recovered` when the streak flips the flag, else nothing.
        Its status (active or standby) never changes here.
    """
    base, samples = ms.ttft_baseline, ms.ttft_samples
    verdict = judge_latency(base, samples, latency, over_budget=over_budget, policy=policy)
    weight = policy.latency_alpha * (_SLOW_WEIGHT if verdict.slow else 1.0)
    ms.ttft_baseline = latency if base is None else base + weight * (latency - base)
    ms.ttft_samples = samples + 1
    ms.latency_streak = ms.latency_streak + 1 if verdict.slow != ms.degraded else 0
    if ms.latency_streak < policy.degraded_streak:
        return []
    ms.latency_streak = 0
    at_ms = round(latency * 1000.0, 1)
    if verdict.slow:
        ms.degraded, ms.degraded_since = True, now
        base_ms = None if base is None else round(base * 1000.0, 1)
        return [ModelDegraded(model, provider, at_ms, base_ms, verdict.why or "slow")]
    since = ms.degraded_since
    ms.degraded, ms.degraded_since = False, None
    return [
        ModelRecovered(model, provider, at_ms, None if since is None else round(now - since, 3))
    ]
