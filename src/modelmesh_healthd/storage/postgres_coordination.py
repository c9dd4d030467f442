"""Coordination on PostgreSQL: members and leases tables, token and epoch sequences.

Tables (in the store's schema, created by `prepare` under a migration lock): `members (member,
expires_at)`, `leases (shard, owner, token, expires_at)`; sequences `fence_seq` (tokens) and
`epoch_seq` (the envelope's epoch). Expiry uses the server's `clock_timestamp()`.

A fenced write runs in one transaction: it locks the lease rows that still carry the writer's
tokens (`SELECT ... FOR SHARE`), writes the rows of exactly those shards, and commits. A claim
by another replica updates the lease row, so it waits for that commit, and a write that comes
after the claim finds a token that no longer matches and writes nothing for that shard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from modelmesh_healthd.storage.coordination import Claim, Heartbeat, ShardRows
from modelmesh_healthd.storage.errors import StoreError

if TYPE_CHECKING:
    from modelmesh_healthd.storage.postgres_store import PostgresStore

__all__ = ["COORDINATION_TABLES", "PostgresCoordination"]

COORDINATION_TABLES: tuple[str, ...] = (
    "CREATE SEQUENCE IF NOT EXISTS {s}.fence_seq",
    "CREATE SEQUENCE IF NOT EXISTS {s}.epoch_seq",
    "CREATE TABLE IF NOT EXISTS {s}.members (member text PRIMARY KEY, "
    "expires_at timestamptz NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {s}.leases (shard text PRIMARY KEY, owner text NOT NULL, "
    "token bigint NOT NULL, expires_at timestamptz NOT NULL)",
)
_MIGRATE_LOCK = 0x6D6D686D  # "mmhm": serializes replicas creating the tables at once


class PostgresCoordination:
    """`Coordination` over an open PostgresStore's connection pool and schema."""

    def __init__(self, store: PostgresStore) -> None:
        """Args:
        store: The store (opened with `async with` before any call).
        """
        self._store = store

    def _q(self, statement: str) -> Any:
        return self._store._q(statement)

    async def _fetch(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        store = self._store
        try:
            async with store._the_pool().connection() as conn:
                cur = await conn.execute(self._q(statement), params)
                return await cur.fetchall() if cur.description else []
        except StoreError:
            raise
        except store._errors() as exc:
            raise store._error(exc) from None

    async def prepare(self, epoch_floor: int) -> None:
        """Create schema, row tables and coordination tables; raise the epoch sequence."""
        store = self._store
        try:
            async with store._the_pool().connection() as conn:
                await conn.execute(
                    "SELECT pg_advisory_lock(%s, hashtext(%s))", (_MIGRATE_LOCK, store.schema)
                )
                try:
                    await store._migrate(conn)
                    for statement in COORDINATION_TABLES:
                        await conn.execute(self._q(statement))
                    await conn.execute(
                        self._q(
                            "SELECT setval('{s}.epoch_seq', greatest(%s, "
                            "(SELECT last_value FROM {s}.epoch_seq)))"
                        ),
                        (max(1, epoch_floor),),
                    )
                finally:
                    await conn.execute(
                        "SELECT pg_advisory_unlock(%s, hashtext(%s))",
                        (_MIGRATE_LOCK, store.schema),
                    )
        except StoreError:
            raise
        except store._errors() as exc:
            raise store._error(exc) from None

    async def heartbeat(self, member: str, ttl: float) -> Heartbeat:
        """Upsert our expiry, delete the expired, list the rest."""
        rows = await self._fetch(
            "WITH up AS (INSERT INTO {s}.members (member, expires_at) "
            "VALUES (%s, clock_timestamp() + make_interval(secs => %s)) "
            "ON CONFLICT (member) DO UPDATE SET expires_at = excluded.expires_at "
            "RETURNING member, extract(epoch FROM expires_at - clock_timestamp())), "
            "gone AS (DELETE FROM {s}.members WHERE expires_at <= clock_timestamp()) "
            "SELECT member, extract(epoch FROM expires_at - clock_timestamp()) FROM {s}.members "
            "WHERE expires_at > clock_timestamp() AND member <> %s "
            "UNION ALL SELECT * FROM up",
            (member, ttl, member),
        )
        return Heartbeat({str(m): float(left) for m, left in rows})

    async def leave(self, member: str) -> None:
        """Delete our member row and our leases."""
        await self._fetch(
            "WITH l AS (DELETE FROM {s}.leases WHERE owner = %s) "
            "DELETE FROM {s}.members WHERE member = %s",
            (member, member),
        )

    async def claim(self, member: str, shards: Sequence[str], ttl: float) -> Claim:
        """INSERT ... ON CONFLICT: take free or expired leases (new token), keep ours."""
        if not shards:
            return Claim()
        granted = await self._fetch(
            "INSERT INTO {s}.leases AS l (shard, owner, token, expires_at) "
            "SELECT shard, %s, nextval('{s}.fence_seq'), "
            "clock_timestamp() + make_interval(secs => %s) FROM unnest(%s::text[]) AS shard "
            "ON CONFLICT (shard) DO UPDATE SET owner = excluded.owner, "
            "token = CASE WHEN l.owner = excluded.owner AND l.expires_at > clock_timestamp() "
            "THEN l.token ELSE excluded.token END, expires_at = excluded.expires_at "
            "WHERE l.owner = excluded.owner OR l.expires_at <= clock_timestamp() "
            "RETURNING shard, token",
            (member, ttl, list(shards)),
        )
        got = {str(s): int(t) for s, t in granted}
        waiting: dict[str, float] = {}
        rest = [s for s in shards if s not in got]
        if rest:
            rows = await self._fetch(
                "SELECT shard, extract(epoch FROM expires_at - clock_timestamp()) "
                "FROM {s}.leases WHERE shard = ANY(%s::text[])",
                (rest,),
            )
            waiting = {str(s): max(0.0, float(left)) for s, left in rows}
        return Claim(got, waiting)

    async def renew(self, member: str, tokens: Mapping[str, int], ttl: float) -> set[str]:
        """Extend the leases still ours under these tokens and unexpired."""
        if not tokens:
            return set()
        rows = await self._fetch(
            "UPDATE {s}.leases AS l SET expires_at = clock_timestamp() + "
            "make_interval(secs => %s) FROM unnest(%s::text[], %s::bigint[]) AS t(shard, token) "
            "WHERE l.shard = t.shard AND l.token = t.token AND l.owner = %s "
            "AND l.expires_at > clock_timestamp() RETURNING l.shard",
            (ttl, list(tokens), list(tokens.values()), member),
        )
        return {str(r[0]) for r in rows}

    async def release(self, member: str, tokens: Mapping[str, int]) -> None:
        """Delete the leases still ours under these tokens."""
        if not tokens:
            return
        await self._fetch(
            "DELETE FROM {s}.leases AS l USING unnest(%s::text[], %s::bigint[]) AS t(shard, "
            "token) WHERE l.shard = t.shard AND l.token = t.token AND l.owner = %s",
            (list(tokens), list(tokens.values()), member),
        )

    async def owners(self) -> dict[str, str]:
        """Shard -> holder of an unexpired lease."""
        rows = await self._fetch(
            "SELECT shard, owner FROM {s}.leases WHERE expires_at > clock_timestamp()"
        )
        return {str(s): str(o) for s, o in rows}

    async def next_epoch(self) -> int:
        """nextval of the epoch sequence."""
        rows = await self._fetch("SELECT nextval('{s}.epoch_seq')")
        return int(rows[0][0])

    async def fenced_write(
        self, member: str, shards: Sequence[ShardRows], meta: tuple[str, str, int] | None
    ) -> set[str]:
        """One transaction: lock the leases still carrying our tokens, write those shards."""
        store = self._store
        try:
            async with store._the_pool().connection() as conn, conn.transaction():
                cur = await conn.execute(
                    self._q(
                        "SELECT l.shard FROM {s}.leases AS l JOIN unnest(%s::text[], "
                        "%s::bigint[]) AS t(shard, token) ON l.shard = t.shard "
                        "AND l.token = t.token WHERE l.owner = %s FOR SHARE OF l"
                    ),
                    ([p.shard for p in shards], [p.token for p in shards], member),
                )
                accepted = {str(r[0]) for r in await cur.fetchall()}
                upserts: list[tuple[str, str, str, str | None]] = []
                deletes: list[tuple[str, str]] = []
                for part in shards:
                    if part.shard not in accepted:
                        continue
                    for row in part.rows:
                        if row.data is None:
                            deletes.append((row.kind, row.key))
                        else:
                            upserts.append((row.kind, row.key, row.data, row.checksum))
                await self._write(conn, upserts, deletes, meta if accepted else None)
        except StoreError:
            raise
        except store._errors() as exc:
            raise store._error(exc) from None
        return {p.shard for p in shards} - accepted

    async def _write(
        self,
        conn: Any,
        upserts: list[tuple[str, str, str, str | None]],
        deletes: list[tuple[str, str]],
        meta: tuple[str, str, int] | None,
    ) -> None:
        cur = conn.cursor()
        if upserts:
            await cur.executemany(
                self._q(
                    "INSERT INTO {s}.rows (kind, key, data, checksum) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, "
                    "checksum = excluded.checksum"
                ),
                upserts,
            )
        if deletes:
            await cur.executemany(
                self._q("DELETE FROM {s}.rows WHERE kind = %s AND key = %s"), deletes
            )
        if meta is not None:
            await cur.execute(
                self._q(
                    "INSERT INTO {s}.meta AS m (id, data, checksum) VALUES (1, %s, %s) "
                    "ON CONFLICT (id) DO UPDATE SET data = excluded.data, "
                    "checksum = excluded.checksum WHERE coalesce((m.data::jsonb->>'epoch')"
                    "::bigint, -1) < %s"
                ),
                (meta[0], meta[1], meta[2]),
            )
