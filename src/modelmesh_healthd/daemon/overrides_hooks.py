"""Overrides wired into the daemon: drains set and cleared now, and ended on time.

The decisions are the core's (`state.overrides`, `state.windows`); this module reads the clock,
publishes (so persists) what changed, and runs the one-second tick that ends overrides and opens
windows between probes. `overrides_api` and `admin` reach it through the `Daemon`'s
`view.DaemonControls` methods.
"""

from __future__ import annotations

import asyncio

from modelmesh_healthd.daemon.runtime import DaemonRuntime
from modelmesh_healthd.state.overrides import (
    Override,
    OverrideError,
    clear_override,
    is_held,
    list_overrides,
    set_override,
)

__all__ = [
    "end_override",
    "expire_overrides",
    "expire_periodically",
    "held_for_maintenance",
    "hold",
    "overrides_now",
]


def overrides_now(daemon: DaemonRuntime) -> list[Override]:
    """Every override in force now."""
    return list_overrides(daemon.state, daemon.wall_clock())


def hold(daemon: DaemonRuntime, target: str, seconds: float, reason: str) -> list[Override]:
    """Hold `target` for `seconds` and publish (so persist) the change.

    Raises:
        OverrideError: Unknown target or a duration that is not positive.
    """
    if not seconds > 0:
        raise OverrideError(f"override duration must be positive, got {seconds}")
    now = daemon.wall_clock()
    events = set_override(
        daemon.mesh,
        daemon.state,
        target,
        until=now + seconds,
        reason=reason,
        now=now,
        policy=daemon.policy,
    )
    daemon.core.overrides.note_events(events)
    daemon.publish(events)
    return [o for o in list_overrides(daemon.state, now) if o.target == target]


def end_override(daemon: DaemonRuntime, target: str) -> bool:
    """End the override on `target` now; False if it had none.

    Raises:
        OverrideError: Unknown target.
    """
    events = clear_override(
        daemon.mesh, daemon.state, target, daemon.wall_clock(), policy=daemon.policy
    )
    daemon.publish(events)
    return bool(events)


def expire_overrides(daemon: DaemonRuntime) -> None:
    """End overrides that are due and open scheduled windows that are due (pure, in the core)."""
    daemon.publish(daemon.core.tick(daemon.wall_clock()))


async def expire_periodically(daemon: DaemonRuntime, every: float = 1.0) -> None:
    """Probes expire their own provider's overrides; this ends the rest on time, too."""
    while True:
        await asyncio.sleep(every)
        expire_overrides(daemon)


def held_for_maintenance(daemon: DaemonRuntime, provider: str) -> bool:
    """An operator's drain or an open maintenance window (history counts it as maintenance)."""
    state = daemon.state.providers.get(provider)
    return state is not None and is_held(state, daemon.wall_clock())
