"""Which stores can coordinate replicas, and their `Coordination`."""

from __future__ import annotations

from modelmesh_healthd.storage.coordination import Coordination

__all__ = ["coordination_for"]


def coordination_for(store: object) -> Coordination | None:
    """The coordination of a Redis or PostgreSQL store; None for stores that have none.

    SQLite, file and memory stores stay single-writer (a second daemon waits as a standby).
    """
    from modelmesh_healthd.storage.postgres_store import PostgresStore
    from modelmesh_healthd.storage.redis_store import RedisStore

    if isinstance(store, RedisStore):
        from modelmesh_healthd.storage.redis_coordination import RedisCoordination

        return RedisCoordination(store)
    if isinstance(store, PostgresStore):
        from modelmesh_healthd.storage.postgres_coordination import PostgresCoordination

        return PostgresCoordination(store)
    return None
