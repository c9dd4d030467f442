"""Scheduled maintenance windows: when one is open, its targets are held as by a drain.

A window recurs weekly (`Sun 02:00`) or daily (`02:00`) at a wall-clock time in its own time
zone, for a fixed duration. While it is open, each target gets an override with source
`schedule:<name>` ending when the window closes; from then on it behaves exactly like an
operator's drain (`state.overrides`), including its expiry. An operator's own override that
already runs longer is left alone.

Pure: the calendar arithmetic (time zones) is the configuration's, handed in as a function of
`now`; this module reads no clock and no time-zone data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from modelmesh_healthd.state.events import Event
from modelmesh_healthd.state.mesh import Mesh
from modelmesh_healthd.state.overrides import set_override
from modelmesh_healthd.state.policy import DEFAULT_POLICY, HealthPolicy
from modelmesh_healthd.state.system import SystemState

__all__ = ["SCHEDULE", "Window", "open_windows"]

SCHEDULE = "schedule:"
"""Prefix of the `source` of an override a window set."""


@dataclass(frozen=True, slots=True)
class Window:
    """One recurring maintenance window.

    Attributes:
        name: Its name (the override's source is `schedule:<name>`).
        targets: Provider and model ids it holds.
        ends_at: The calendar rule, a pure function of `now`: when the occurrence open at `now`
            closes, or None if none is open (`config.maintenance.window_end` builds it from a
            weekday, a wall-clock time, a duration and a time zone).
        reason: Shown with the override.
    """

    name: str
    targets: tuple[str, ...]
    ends_at: Callable[[float], float | None]
    reason: str = "scheduled maintenance"


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
        ends = window.ends_at(now)
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
