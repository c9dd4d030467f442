"""Pools seen across replicas: settle each pool's split from the models' statuses.

A replica writes only the providers it owns, so its own probes cannot see a pool emptied by
another replica's providers. After each read of the store, the pool's owner recomputes the pool
from every model's status and is the one replica that logs `pool.empty` and `pool.restored`.

Pure: no I/O, no clock (`now` is a parameter).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping

from modelmesh_healthd.state import Event, Mesh, PoolEmpty, PoolRestored, SystemState

__all__ = ["settle_pools"]


def settle_pools(
    mesh: Mesh,
    state: SystemState,
    now: float,
    *,
    owns: Callable[[str], bool],
    stored: SystemState | None,
    announced: MutableMapping[str, bool],
) -> tuple[list[Event], list[str]]:
    """Line every pool's active/standby split up with its models' statuses.

    Args:
        mesh: The topology.
        state: The replica's view (its own providers plus the others' from the store); its
            pools are updated in place.
        now: Timestamp of a rotation found here.
        owns: Whether this replica owns a pool (it then counts rotations and announces).
        stored: The state just read from the store: pools this replica does not own take their
            rotation counters from it.
        announced: Pool -> whether it was last announced empty; updated. A pool missing from
            it (newly owned) is recorded without an event.

    Returns:
        The pool events to log, and the owned pools whose rows changed (to write).
    """
    events: list[Event] = []
    changed: list[str] = []
    for pool, members in mesh.pools.items():
        ps = state.pools.get(pool)
        if ps is None:
            continue
        active = {m for m in members if m in state.models and state.models[m].is_active}
        standby = {m for m in members if m in state.models} - active
        moved = len(active ^ ps.active_models)  # models that changed sides, as the core counts
        ps.active_models, ps.standby_models = active, standby
        if not owns(pool):
            theirs = None if stored is None else stored.pools.get(pool)
            if theirs is not None:
                ps.rotation_count, ps.last_rotation = theirs.rotation_count, theirs.last_rotation
            announced.pop(pool, None)
            continue
        if moved:
            ps.rotation_count += moved
            ps.last_rotation = now
            changed.append(pool)
        empty = bool(members) and not active
        before = announced.get(pool)
        announced[pool] = empty
        if before is None or before == empty:
            continue
        events.append(PoolEmpty(pool, len(standby)) if empty else PoolRestored(pool, len(active)))
    return events, changed
