"""ModelMesh's `discovery.health` settings, as the daemon's schedule and health policy.

ModelMesh documents a health monitor (`discovery.health`) that modelmesh-lite 0.1.1 never runs;
the daemon is that monitor. Its `interval` and `timeout` are the daemon's `schedule.interval`
and `schedule.timeout`, and `failure_threshold` (consecutive failed probes before a provider is
deactivated) chooses the weight of the daemon's availability score. The daemon's own
`schedule:` and `health:` values win when the file has them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from modelmesh_healthd.config.errors import ConfigIssue
from modelmesh_healthd.state import DEFAULT_POLICY, HealthPolicy, PolicyError

__all__ = ["HealthSettings", "alpha_for_failures", "health_settings"]

KeyPath = tuple[str | int, ...]
_HERE: KeyPath = ("discovery", "health")


@dataclass
class HealthSettings:
    """What a `discovery.health` block sets.

    Attributes:
        sections: The daemon's `schedule`/`health` sections, with the settings applied.
        mapped: (key path, the daemon setting it became) for `validate --show`.
        origin: Daemon setting path -> the `discovery.health` key it came from.
        issues: What is wrong with the block's values.
    """

    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    mapped: list[tuple[KeyPath, str]] = field(default_factory=list)
    origin: dict[KeyPath, KeyPath] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def health_settings(health: dict[str, Any], document: dict[str, Any]) -> HealthSettings:
    """The daemon settings that `health` (the `discovery.health` block of `document`) sets."""
    found = HealthSettings()
    ours = _mapping(document.get("schedule"))
    schedule = dict(ours)
    for key in ("interval", "timeout"):
        if key not in health:
            continue
        if key in ours:
            found.mapped.append(((*_HERE, key), f"overridden by schedule.{key}"))
            continue
        schedule[key] = health[key]
        found.origin[("schedule", key)] = (*_HERE, key)
        found.mapped.append(((*_HERE, key), f"schedule.{key}"))
    if schedule != ours:
        found.sections["schedule"] = schedule
    if "failure_threshold" in health:
        _failure_threshold(health["failure_threshold"], document, found)
    return found


def _failure_threshold(value: Any, document: dict[str, Any], found: HealthSettings) -> None:
    here: KeyPath = (*_HERE, "failure_threshold")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        found.issues.append(
            ConfigIssue(here, f"must be a whole number of at least 1, got {value!r}")
        )
        return
    ours = _mapping(document.get("health"))
    if "ema_alpha" in ours:
        found.mapped.append((here, "overridden by health.ema_alpha"))
        return
    minimum = ours.get("min_availability", DEFAULT_POLICY.min_availability)
    if isinstance(minimum, bool) or not isinstance(minimum, float | int):
        return  # the health section's own error says why
    alpha = alpha_for_failures(value, minimum)
    if alpha is None:
        return
    found.mapped.append((here, f"health.ema_alpha = {alpha:g}"))
    if alpha != DEFAULT_POLICY.ema_alpha:
        found.sections["health"] = {**ours, "ema_alpha": alpha}
        found.origin[("health", "ema_alpha")] = here


def alpha_for_failures(failures: int, min_availability: float) -> float | None:
    """The EMA weight with which `failures` consecutive failed probes take a provider from a
    score of 1.0 below `min_availability` (the default weight when it already does so).

    Returns:
        The weight, or None when `min_availability` is not in (0, 1).
    """
    if not 0.0 < min_availability < 1.0:
        return None
    if _failures_to_down(DEFAULT_POLICY.ema_alpha, min_availability) == failures:
        return DEFAULT_POLICY.ema_alpha
    # The middle (in log space) of the weights that give exactly `failures`:
    # (1-a)^n < m <= (1-a)^(n-1)  holds for  1-a = m^(1/(n-1/2)).
    alpha = 1.0 - math.pow(min_availability, 1.0 / (failures - 0.5))
    rounded = round(alpha, 4)
    fits = rounded > 0 and _failures_to_down(rounded, min_availability) == failures
    return rounded if fits else alpha


def _failures_to_down(alpha: float, minimum: float) -> int:
    # The policy's own count, so that the weight chosen here is judged by the rule it feeds.
    try:
        policy = HealthPolicy(ema_alpha=alpha, min_availability=minimum, recovery_threshold=minimum)
    except PolicyError:
        return 0
    return policy.failures_to_down()
