"""Coordination on PostgreSQL: members and leases tables, token and epoch sequences.

Tables (in the store's schema, created by `prepare` under a migration lock): `members (member,
expires_at)`, `leases (shard, owner, token, expires_at)`, `votes (vantage, provider, data,
written_at)` (a quorum across sites); sequences `fence_seq` (tokens) and
`epoch_seq` (the envelope's epoch). Expiry uses the server's `clock_timestamp()`.

A fenced write is one statement: it locks the lease rows that still carry the writer's tokens
(`SELECT ... FOR UPDATE`), writes the rows of exactly those shards, and commits. A claim by
another replica updates the lease row, so it waits for that commit, and a write that comes after
the claim finds a token that no longer matches and writes nothing for that shard. Every
statement that locks lease rows locks them in shard order (two locking the same rows in
different orders would deadlock), and each is a single autocommit statement: no lock is ever
held while the client is busy, paused or gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from modelmesh_healthd.storage.coordination import (
    Claim,
    Heartbeat,
    ShardRows,
    StoredVote,
    VoteWrite,
)
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
    "CREATE TABLE IF NOT EXISTS {s}.votes (vantage text NOT NULL, provider text NOT NULL, "
    "data text NOT NULL, written_at timestamptz NOT NULL, PRIMARY KEY (vantage, provider))",
)
_MIGRATE_LOCK = 0x6D6D686D  # "mmhm": serializes replicas creating the tables at once

_HELD = (
    "held AS (SELECT l.shard FROM {s}.leases AS l "
    "JOIN unnest(%b::text[], %s::bigint[]) AS t(shard, token) "
    "ON l.shard = t.shard AND l.token = t.token WHERE l.owner = %s "
    "{unexpired}ORDER BY l.shard FOR UPDATE OF l)"
)
"""The fence of every write, renewal and release, as `{held}` (or `{held_unexpired}`) in a
statement: the leases the member still holds under the given tokens, locked in shard order
(so two replicas' statements never wait on each other in a cycle). Its parameters: shards
(text[]), tokens (bigint[]), member.

Text arrays go as `%b`, PostgreSQL's binary array format: each element is sent as it is, with
its length. In the text format psycopg quotes and escapes every element in Python, a regex
substitution per quote, which made a write of JSON rows cost more than the probes it records
(docs/benchmarks.md)."""


class PostgresCoordination:
    """`Coordination` over an open PostgresStore's connection pool and schema."""

    def __init__(self, store: PostgresStore) -> None:
        """Args:
        store: The store (opened with `async with` before any call).
        """
        self._store = store

    def _q(self, statement: str) -> Any:
        from psycopg import sql

        schema = sql.Identifier(self._store.schema)
        held = sql.SQL(_HELD)
        return sql.SQL(statement).format(
            s=schema,
            held=held.format(s=schema, unexpired=sql.SQL("")),
            held_unexpired=held.format(
                s=schema, unexpired=sql.SQL("AND l.expires_at > clock_timestamp() ")
            ),
        )

    async def _fetch(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run one statement on a pooled connection (autocommit: one statement, one
        transaction, no lock held while the client is busy elsewhere)."""
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
            "WITH locked AS (SELECT shard FROM {s}.leases WHERE owner = %s "
            "ORDER BY shard FOR UPDATE), "
            "gone AS (DELETE FROM {s}.leases AS l USING locked WHERE l.shard = locked.shard) "
            "DELETE FROM {s}.members WHERE member = %s",
            (member, member),
        )

    async def claim(self, member: str, shards: Sequence[str], ttl: float) -> Claim:
        """INSERT ... ON CONFLICT: take free or expired leases (new token), keep ours."""
        if not shards:
            return Claim()
        granted = await self._fetch(
            # Existing lease rows are locked in shard order first (see the module docstring).
            "WITH locked AS (SELECT shard FROM {s}.leases WHERE shard = ANY(%b::text[]) "
            "ORDER BY shard FOR UPDATE) "
            "INSERT INTO {s}.leases AS l (shard, owner, token, expires_at) "
            "SELECT shard, %s, nextval('{s}.fence_seq'), "
            "clock_timestamp() + make_interval(secs => %s) FROM unnest(%b::text[]) AS shard "
            "CROSS JOIN (SELECT count(*) FROM locked) AS first_lock ORDER BY shard "
            "ON CONFLICT (shard) DO UPDATE SET owner = excluded.owner, "
            "token = CASE WHEN l.owner = excluded.owner AND l.expires_at > clock_timestamp() "
            "THEN l.token ELSE excluded.token END, expires_at = excluded.expires_at "
            "WHERE l.owner = excluded.owner OR l.expires_at <= clock_timestamp() "
            "RETURNING shard, token",
            (sorted(shards), member, ttl, sorted(shards)),
        )
        got = {str(s): int(t) for s, t in granted}
        waiting: dict[str, float] = {}
        rest = [s for s in shards if s not in got]
        if rest:
            rows = await self._fetch(
                "SELECT shard, extract(epoch FROM expires_at - clock_timestamp()) "
                "FROM {s}.leases WHERE shard = ANY(%b::text[])",
                (rest,),
            )
            waiting = {str(s): max(0.0, float(left)) for s, left in rows}
        return Claim(got, waiting)

    async def renew(self, member: str, tokens: Mapping[str, int], ttl: float) -> set[str]:
        """Extend the leases still ours under these tokens and unexpired."""
        if not tokens:
            return set()
        rows = await self._fetch(
            "WITH {held_unexpired} "
            "UPDATE {s}.leases AS l SET expires_at = clock_timestamp() + "
            "make_interval(secs => %s) FROM held WHERE l.shard = held.shard RETURNING l.shard",
            (list(tokens), list(tokens.values()), member, ttl),
        )
        return {str(r[0]) for r in rows}

    async def release(self, member: str, tokens: Mapping[str, int]) -> None:
        """Delete the leases still ours under these tokens."""
        if not tokens:
            return
        await self._fetch(
            "WITH {held} DELETE FROM {s}.leases AS l USING held WHERE l.shard = held.shard",
            (list(tokens), list(tokens.values()), member),
        )

    async def owners(self) -> dict[str, str]:
        """Shard -> holder of an unexpired lease (none when no replica ever ran here)."""
        exists = await self._fetch(
            "SELECT to_regclass(format('%%I.leases', %s::text))", (self._store.schema,)
        )
        if not exists or exists[0][0] is None:
            return {}
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
        """One statement: lock the leases still carrying our tokens, write those shards' rows.

        The meta row follows in a statement of its own: every writer updates that one row, and
        holding it inside the fenced statement would queue every replica's writes behind one
        another's lease locks.
        """
        names, kinds, keys, datas, sums = [], [], [], [], []
        for part in shards:
            for row in part.rows:
                names.append(part.shard)
                kinds.append(row.kind)
                keys.append(row.key)
                datas.append(row.data)
                sums.append(row.checksum)
        rows = await self._fetch(
            "WITH {held}, "
            "batch AS (SELECT b.* FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], "
            "%b::text[]) AS b(shard, kind, key, data, checksum) JOIN held USING (shard)), "
            "up AS (INSERT INTO {s}.rows (kind, key, data, checksum) "
            "SELECT kind, key, data, checksum FROM batch WHERE data IS NOT NULL "
            "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, "
            "checksum = excluded.checksum), "
            "del AS (DELETE FROM {s}.rows AS r USING batch WHERE batch.data IS NULL "
            "AND r.kind = batch.kind AND r.key = batch.key) "
            "SELECT shard FROM held",
            (
                [p.shard for p in shards],
                [p.token for p in shards],
                member,
                names,
                kinds,
                keys,
                datas,
                sums,
            ),
        )
        accepted = {str(r[0]) for r in rows}
        if accepted and meta is not None:
            await self._fetch(
                "INSERT INTO {s}.meta AS m (id, data, checksum) VALUES (1, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET data = excluded.data, "
                "checksum = excluded.checksum WHERE coalesce((m.data::jsonb->>'epoch')"
                "::bigint, -1) < %s",
                (meta[0], meta[1], meta[2]),
            )
        return {p.shard for p in shards} - accepted

    async def write_votes(self, member: str, votes: Sequence[VoteWrite]) -> set[str]:
        """One statement: lock the vote leases still carrying our tokens, write those votes."""
        if not votes:
            return set()
        rows = await self._fetch(
            "WITH {held}, "
            "batch AS (SELECT b.* FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[]) "
            "AS b(shard, vantage, provider, data) JOIN held USING (shard)), "
            "up AS (INSERT INTO {s}.votes (vantage, provider, data, written_at) "
            "SELECT vantage, provider, data, clock_timestamp() FROM batch "
            "ON CONFLICT (vantage, provider) DO UPDATE SET data = excluded.data, "
            "written_at = excluded.written_at) "
            "SELECT shard FROM held",
            (
                [v.shard for v in votes],
                [v.token for v in votes],
                member,
                [v.shard for v in votes],
                [v.vantage for v in votes],
                [v.provider for v in votes],
                [v.data for v in votes],
            ),
        )
        return {v.shard for v in votes} - {str(r[0]) for r in rows}

    async def votes(self) -> list[StoredVote]:
        """Every vote with its age by the server's clock."""
        rows = await self._fetch(
            "SELECT vantage, provider, data, "
            "greatest(0, extract(epoch FROM clock_timestamp() - written_at)) FROM {s}.votes"
        )
        return [StoredVote(str(p), str(v), str(d), float(age)) for v, p, d, age in rows]

    async def prune_votes(self, stale: Sequence[tuple[str, str, float]]) -> None:
        """One statement: delete each vote still older than its max age."""
        if not stale:
            return
        await self._fetch(
            "DELETE FROM {s}.votes AS v USING unnest(%b::text[], %b::text[], %s::float8[]) "
            "AS t(vantage, provider, max_age) WHERE v.vantage = t.vantage "
            "AND v.provider = t.provider "
            "AND v.written_at < clock_timestamp() - make_interval(secs => t.max_age) "
            "RETURNING v.vantage",
            ([v for v, _, _ in stale], [p for _, p, _ in stale], [a for _, _, a in stale]),
        )
