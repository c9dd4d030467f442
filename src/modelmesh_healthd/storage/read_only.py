"""The read API for other processes (routers, the `status` command): read-only, lock-free.

Safe while a daemon writes: every backend reads one consistent cut (a WAL read transaction, a
MULTI of reads, a repeatable-read transaction, an atomically renamed file) and changes nothing,
not even corrupt data, which it skips and reports.
"""

from __future__ import annotations

from modelmesh_healthd.state.system import Snapshot, SystemState
from modelmesh_healthd.storage.log import log_load
from modelmesh_healthd.storage.urls import open_store

__all__ = ["read_owners", "read_snapshot", "read_state", "read_votes"]


async def read_snapshot(url: str) -> Snapshot | None:
    """Read the persisted snapshot of the store at `url`.

    Args:
        url: A store URL (see `open_store`).

    Returns:
        The snapshot with its envelope (the good remainder if some rows are corrupt, each
        reported as `snapshot.corrupt` with `moved_to=None`), or None when the store is empty.

    Raises:
        StoreURLError: Bad URL.
        StoreUnavailableError: The backend cannot be reached.
    """
    async with open_store(url) as store:
        result = await store.load(repair=False)
    log_load(store.url, result, writer=False)
    return result.snapshot


async def read_state(url: str) -> SystemState | None:
    """Read the persisted state of the store at `url` (see `read_snapshot`).

    Returns:
        The state, or None when the store is empty.
    """
    snapshot = await read_snapshot(url)
    return None if snapshot is None else snapshot.state


async def read_owners(url: str) -> dict[str, str]:
    """Which replica holds each provider's lease now (replicas sharing a Redis or PostgreSQL
    store; see `storage.coordination`).

    Returns:
        Provider id -> the holder's member id; empty for a store no replica runs on.

    Raises:
        StoreURLError: Bad URL.
        StoreUnavailableError: The backend cannot be reached.
    """
    from modelmesh_healthd.storage.coordination import PROVIDER_SHARD
    from modelmesh_healthd.storage.coordination_backends import coordination_for

    async with open_store(url) as store:
        coordination = coordination_for(store)
        owners = {} if coordination is None else await coordination.owners()
    return {s[len(PROVIDER_SHARD) :]: m for s, m in owners.items() if s.startswith(PROVIDER_SHARD)}


async def read_votes(url: str) -> dict[str, dict[str, dict[str, object]]]:
    """Every site's vote on each provider (a quorum across sites; see
    `storage.coordination.votes_document`).

    Returns:
        Provider -> site -> its vote; empty when no site votes on this store.

    Raises:
        StoreURLError: Bad URL.
        StoreUnavailableError: The backend cannot be reached.
    """
    from modelmesh_healthd.storage.coordination import votes_document
    from modelmesh_healthd.storage.coordination_backends import coordination_for

    async with open_store(url) as store:
        coordination = coordination_for(store)
        if coordination is None:
            return {}
        return votes_document(await coordination.votes())
