"""When to probe a provider next: a pure function of its phase, its schedule and a random draw.

The core decides the phase (`state.observe`); this turns it into seconds. The scheduler around
it is thin; everything worth table-testing about timing is here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from modelmesh_healthd.state import Phase, Step

__all__ = ["Timing", "base_delay", "due_after", "first_due", "next_due"]


@dataclass(frozen=True, slots=True)
class Timing:
    """One provider's schedule, in seconds (see `schedule:` in the configuration)."""

    interval: float = 30.0
    fast_interval: float = 5.0
    down_interval: float = 15.0
    down_interval_max: float = 300.0
    jitter: float = 0.1
    timeout: float = 10.0


def base_delay(timing: Timing, phase: Phase, down_probes: int = 0) -> float:
    """The wait before jitter.

    Args:
        timing: The provider's schedule.
        phase: Its phase.
        down_probes: Failed probes since it went down (0 for the first wait after going down).
    """
    if phase is Phase.HEALTHY:
        return timing.interval
    if phase is Phase.PENDING:
        return timing.fast_interval
    # 2**n overflows to inf long before it matters; the cap bounds it.
    growth = 2.0 ** min(down_probes, 60)
    return min(timing.down_interval * growth, max(timing.down_interval_max, timing.down_interval))


def _jittered(delay: float, jitter: float, u: float) -> float:
    # u in [0, 1) -> a factor in [1 - jitter, 1 + jitter): symmetric, so the mean stays `delay`.
    return delay * (1.0 + jitter * (2.0 * u - 1.0))


def first_due(timing: Timing, phase: Phase, now: float, u: float) -> float:
    """When to probe a provider first: spread uniformly over its first interval.

    A restart then does not fire every probe at once.

    Args:
        timing: The provider's schedule.
        phase: Its phase (a provider restored as down waits at most its down interval).
        now: The scheduler's clock.
        u: A uniform draw in [0, 1).
    """
    return now + u * base_delay(timing, phase)


def next_due(
    timing: Timing,
    phase: Phase,
    *,
    down_probes: int,
    scheduled_at: float,
    finished_at: float,
    resume_at: float | None,
    u: float,
) -> float:
    """When to probe a provider again after a probe.

    Anchored on when the probe was *scheduled*, not when it finished, so a slow probe does not
    drift the provider's cadence; but never before the probe finished, and never before the
    provider said it would take requests again (Retry-After).

    Args:
        timing: The provider's schedule.
        phase: Its phase after the probe.
        down_probes: Failed probes since it went down.
        scheduled_at: When the probe was due.
        finished_at: When it completed.
        resume_at: When the provider's Retry-After ends (same clock), if it sent one.
        u: A uniform draw in [0, 1) for the jitter.
    """
    delay = _jittered(base_delay(timing, phase, down_probes), timing.jitter, u)
    due = max(scheduled_at + delay, finished_at)
    if resume_at is not None:
        due = max(due, resume_at)
    return due


def due_after(
    timing: Timing,
    step: Step,
    *,
    scheduled_at: float,
    finished_at: float,
    resume_at: float | None,
    draw: Callable[[], float],
) -> float:
    """When to probe a provider again, after the core observed its probe.

    Args:
        timing: The provider's schedule.
        step: What the core decided.
        scheduled_at: When the probe was due.
        finished_at: When it completed (the scheduler's clock, as is the answer).
        resume_at: When the provider's Retry-After ends (same clock), if it sent one.
        draw: Uniform draws in [0, 1) for the jitter (called only when jitter applies).
    """
    if step.probe_now:
        return finished_at
    if step.hold:
        # A held failure: probe again after the down interval so far, counted from now; no
        # jitter, no anchoring on the schedule (our own network may be out for long).
        return finished_at + base_delay(timing, Phase.DOWN, step.backoff)
    return next_due(
        timing,
        step.phase,
        down_probes=step.backoff,
        scheduled_at=scheduled_at,
        finished_at=finished_at,
        resume_at=resume_at,
        u=draw(),
    )
