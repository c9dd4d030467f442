"""Scheduled maintenance windows: when one is open, its targets are held as by a drain.

A window recurs weekly (`Sun 02:00`) or daily (`02:00`) at a wall-clock time in its own time
zone, for a fixed duration. While it is open, each target gets an override with source
`schedule:<name>` ending when the window closes; from then on it behaves exactly like an
operator's drain (`state.overrides`), including its expiry. An operator's own override that
already runs longer is left alone.

Pure: the time zone arrives as a `tzinfo` (the configuration loads it), time as `now`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from modelmesh_healthd.state.events import Event
from modelmesh_healthd.state.mesh import Mesh
from modelmesh_healthd.state.overrides import set_override
from modelmesh_healthd.state.policy import DEFAULT_POLICY, HealthPolicy
from modelmesh_healthd.state.system import SystemState

__all__ = ["SCHEDULE", "Window", "open_windows", "window_end"]

SCHEDULE = "schedule:"
"""Prefix of the `source` of an override a window set."""


@dataclass(frozen=True, slots=True)
class Window:
    """One recurring maintenance window.

    Attributes:
        name: Its name (the override's source is `schedule:<name>`).
        targets: Provider and model ids it holds.
        weekday: 0 (Monday) to 6 (Sunday), or None for every day.
        start: Wall-clock start in `zone`.
        duration: Seconds it stays open.
        zone: Its time zone.
        reason: Shown with the override.
    """

    name: str
    targets: tuple[str, ...]
    weekday: int | None
    start: time
    duration: float
    zone: tzinfo
    reason: str = "scheduled maintenance"


def window_end(window: Window, now: float) -> float | None:
    """When the occurrence of `window` open at `now` closes, or None if none is open."""
    local = datetime.fromtimestamp(now, window.zone)
    # An occurrence open now started at most `duration` ago: look back that many days, plus one.
    for back in range(int(window.duration // 86400) + 2):
        day = local.date() - timedelta(days=back)
        if window.weekday is not None and day.weekday() != window.weekday:
            continue
        begins = datetime.combine(day, window.start, tzinfo=window.zone).timestamp()
        ends = begins + window.duration
        if begins <= now < ends:
            return ends
    return None


def open_windows(
    mesh: Mesh,
    state: SystemState,
    windows: Iterable[Window],
    now: float,
    *,
    providers: Iterable[str] | None = None,
    policy: HealthPolicy = DEFAULT_POLICY,
) -> list[Event]:
    """Hold the targets of every window open at `now` (once per occurrence).

    Args:
        providers: Consider only targets that are these providers or their models (`observe`
            passes the probed one); None: all.

    Returns:
        The `override.set` events and the moves they caused.
    """
    only = None if providers is None else set(providers)
    events: list[Event] = []
    for window in windows:
        ends = window_end(window, now)
        if ends is None:
            continue
        for target in window.targets:
            owner = target if target in mesh.provider_models else mesh.model_provider.get(target)
            if owner is None or (only is not None and owner not in only):
                continue
            held = state.providers[target] if target == owner else state.models[target]
            if held.override_until is not None and held.override_until >= ends:
                continue  # this occurrence already set it, or a longer drain covers it
            events += set_override(
                mesh,
                state,
                target,
                until=ends,
                reason=window.reason,
                now=now,
                source=SCHEDULE + window.name,
                policy=policy,
            )
    return events
