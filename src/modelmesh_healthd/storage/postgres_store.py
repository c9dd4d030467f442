"""`postgresql://user[:password]@host:port/db?schema=NAME`: rows as JSONB in PostgreSQL.

Tables live in their own schema (default `modelmesh_healthd`), created and versioned by the daemon:
`schema_version` records each applied migration; migrations run when the writer opens the store.
`rows (kind, key, data jsonb, checksum)` holds the rows, `meta` the envelope, `quarantine` what was
set aside, `lock_owner` who holds the lock.

Connections come from a psycopg_pool pool. The writer lock is a session advisory lock held on one
connection taken from the pool for the writer's lifetime; every write goes over that same
connection, so a writer that lost its session (and so its lock) cannot write: it must take the
lock again first. PostgreSQL drops a dead client's session, and its lock, by itself.

JSONB does not keep a document's bytes (key order, spacing), so a row's checksum is verified
against the canonical re-encoding of what comes back, which is what was checksummed.

Options (URL query): `schema`, `pool_max` (default 4), `timeout` seconds to get a connection
(default 5). Everything else goes to libpq.
"""

from __future__ import annotations

import json
import re
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from modelmesh_healthd.storage.base import LoadResult, LockHandle, LockOwner, WriteBatch
from modelmesh_healthd.storage.decode import decode_store
from modelmesh_healthd.storage.errors import (
    LockLostError,
    StoreError,
    StoreLockedError,
    StoreResetError,
    StoreUnavailableError,
    StoreURLError,
)
from modelmesh_healthd.storage.rows import encode_json
from modelmesh_healthd.storage.rowstore import load_result
from modelmesh_healthd.storage.urls import redact_url, scrub, split_options, url_secrets

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

__all__ = ["MIGRATIONS", "PostgresStore"]

_LOCK_CLASS = 0x6D6D6864  # "mmhd": the advisory lock namespace of this daemon

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE {s}.rows (kind text NOT NULL, key text NOT NULL, data jsonb NOT NULL, "
        "checksum text NOT NULL, PRIMARY KEY (kind, key))",
        "CREATE TABLE {s}.meta (id int PRIMARY KEY CHECK (id = 1), data text NOT NULL, "
        "checksum text NOT NULL)",
        "CREATE TABLE {s}.quarantine (id bigserial PRIMARY KEY, kind text NOT NULL, "
        "key text NOT NULL, data text, checksum text, reason text NOT NULL, "
        "set_aside_at double precision NOT NULL)",
        "CREATE TABLE {s}.lock_owner (id int PRIMARY KEY CHECK (id = 1), owner jsonb NOT NULL)",
    ),
)
"""`MIGRATIONS[i]` brings the tables from version i to i + 1 (`{s}` is the schema)."""

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")


class PostgresStore:
    """Row store in PostgreSQL tables; the writer lock is a session advisory lock."""

    incremental = True

    def __init__(self, url: str) -> None:
        """Args:
        url: `postgresql://user[:password]@host[:port]/db[?schema=...&pool_max=4&timeout=5]`.
        """
        self.url = redact_url(url)
        bare, options = split_options(
            url, {"schema": "modelmesh_healthd", "pool_max": "4", "timeout": "5"}
        )
        self.schema = options["schema"]
        if not _SCHEMA_NAME.match(self.schema):
            raise StoreURLError(
                f"{self.url}: schema must be lowercase letters, digits and _ (at most 40), "
                f"got {self.schema!r}"
            )
        try:
            self._pool_max = max(2, int(options["pool_max"]))
            self._timeout = float(options["timeout"])
        except ValueError:
            raise StoreURLError(f"{self.url}: pool_max and timeout must be numbers") from None
        self._conninfo = "postgresql" + bare[bare.index(":") :]
        self._secrets = url_secrets(url)
        self._pool: AsyncConnectionPool[AsyncConnection[Any]] | None = None
        self._conn: AsyncConnection[Any] | None = None
        self._owner: LockOwner | None = None

    def _q(self, statement: str) -> Any:
        from psycopg import sql

        return sql.SQL(statement).format(s=sql.Identifier(self.schema))

    def _error(self, exc: BaseException) -> StoreUnavailableError:
        reason = scrub(str(exc).strip(), self._secrets)
        return StoreUnavailableError(f"postgresql {self.url}: {type(exc).__name__}: {reason}")

    def _errors(self) -> tuple[type[BaseException], ...]:
        from psycopg import Error
        from psycopg_pool import PoolTimeout

        return (Error, PoolTimeout, OSError)

    # --- lifecycle --------------------------------------------------------------

    async def __aenter__(self) -> Self:
        from psycopg_pool import AsyncConnectionPool

        async def reset(conn: AsyncConnection[Any]) -> None:
            # A connection back in the pool must never carry a writer lock to another borrower.
            await conn.execute("SELECT pg_advisory_unlock_all()")

        self._pool = AsyncConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=self._pool_max,
            open=False,
            timeout=self._timeout,
            kwargs={"autocommit": True, "connect_timeout": max(1, int(self._timeout))},
            check=AsyncConnectionPool.check_connection,
            reset=reset,
            name="modelmesh-healthd",
        )
        await self._pool.open(wait=False)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._conn is not None and self._pool is not None:
            await self._put_back(self._conn)
            self._conn = None
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def _the_pool(self) -> AsyncConnectionPool[AsyncConnection[Any]]:
        if self._pool is None:
            raise StoreError(f"{self.url}: the store is not open (use `async with`)")
        return self._pool

    async def _put_back(self, conn: AsyncConnection[Any]) -> None:
        try:
            await self._the_pool().putconn(conn)
        except self._errors():
            await conn.close()

    # --- lock -------------------------------------------------------------------

    async def acquire_lock(self, owner: LockOwner) -> LockHandle:
        """Take the advisory lock, apply migrations, record the owner."""
        try:
            conn = await self._lock_session(owner)
            await self._migrate(conn)
            await conn.execute(
                self._q(
                    "INSERT INTO {s}.lock_owner (id, owner) VALUES (1, %s::jsonb) "
                    "ON CONFLICT (id) DO UPDATE SET owner = excluded.owner"
                ),
                (json.dumps(owner.to_dict()),),
            )
        except StoreError:
            raise
        except self._errors() as exc:
            raise self._error(exc) from None
        self._conn, self._owner = conn, owner
        return LockHandle(self.url, owner)

    async def _lock_session(self, owner: LockOwner) -> AsyncConnection[Any]:
        conn = await self._the_pool().getconn()
        try:
            cur = await conn.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (_LOCK_CLASS, self.schema)
            )
            row = await cur.fetchone()
        except BaseException:
            await self._put_back(conn)
            raise
        if row is None or not row[0]:
            await self._put_back(conn)
            raise StoreLockedError(self.url, await self.lock_owner())
        return conn

    async def _migrate(self, conn: AsyncConnection[Any]) -> None:
        await conn.execute(self._q("CREATE SCHEMA IF NOT EXISTS {s}"))
        await conn.execute(
            self._q(
                "CREATE TABLE IF NOT EXISTS {s}.schema_version (version int PRIMARY KEY, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            )
        )
        cur = await conn.execute(
            self._q("SELECT coalesce(max(version), 0) FROM {s}.schema_version")
        )
        row = await cur.fetchone()
        current = int(row[0]) if row else 0
        if current > len(MIGRATIONS):
            raise StoreUnavailableError(
                f"postgresql {self.url}: schema {self.schema!r} is at version {current}, newer "
                f"than this daemon's {len(MIGRATIONS)}: refusing to touch it"
            )
        for version in range(current, len(MIGRATIONS)):
            async with conn.transaction():
                for statement in MIGRATIONS[version]:
                    await conn.execute(self._q(statement))
                await conn.execute(
                    self._q("INSERT INTO {s}.schema_version (version) VALUES (%s)"),
                    (version + 1,),
                )

    async def release_lock(self, handle: LockHandle) -> None:
        """Unlock and return the session to the pool."""
        conn, self._conn, self._owner = self._conn, None, None
        if conn is None:
            return
        try:
            if not conn.broken:
                await conn.execute(
                    "SELECT pg_advisory_unlock(%s, hashtext(%s))", (_LOCK_CLASS, self.schema)
                )
        except self._errors():
            pass  # a dead session has released its lock already
        await self._put_back(conn)

    async def lock_owner(self) -> LockOwner | None:
        """The owner recorded by the current holder (None if nobody holds the lock)."""
        try:
            async with self._the_pool().connection() as conn:
                cur = await conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND classid = %s::oid AND objid = hashtext(%s)::oid AND granted",
                    (_LOCK_CLASS, self.schema),
                )
                held = await cur.fetchone()
                if not held or not held[0]:
                    return None
                cur = await conn.execute(
                    "SELECT to_regclass(format('%%I.lock_owner', %s::text))", (self.schema,)
                )
                exists = await cur.fetchone()
                if not exists or exists[0] is None:
                    return None
                cur = await conn.execute(self._q("SELECT owner FROM {s}.lock_owner WHERE id = 1"))
                row = await cur.fetchone()
        except self._errors() as exc:
            raise self._error(exc) from None
        return None if row is None else LockOwner.from_dict(row[0])

    async def ping(self) -> None:
        """Run `SELECT 1` on a pooled connection."""
        try:
            async with self._the_pool().connection() as conn:
                await conn.execute("SELECT 1")
        except self._errors() as exc:
            raise self._error(exc) from None

    async def _writer(self) -> AsyncConnection[Any]:
        """The lock session; after it died, a new one, if the lock can be taken again."""
        conn, owner = self._conn, self._owner
        if owner is None:
            raise LockLostError(f"state store {self.url}: the writer lock is not held")
        if conn is not None and not conn.broken and not conn.closed:
            return conn
        if conn is not None:
            self._conn = None
            await self._put_back(conn)
        try:
            conn = await self._lock_session(owner)
        except StoreLockedError as exc:
            self._owner = None
            raise LockLostError(str(exc)) from None
        cur = await conn.execute(self._q("SELECT owner->>'token' FROM {s}.lock_owner WHERE id = 1"))
        row = await cur.fetchone()
        self._conn = conn
        if row is None or row[0] != owner.token:
            await conn.execute(
                self._q("UPDATE {s}.lock_owner SET owner = %s::jsonb WHERE id = 1"),
                (json.dumps(owner.to_dict()),),
            )
            raise StoreResetError(
                f"postgresql {self.url}: another writer held the store meanwhile; rewriting in full"
            )
        return conn

    # --- load -------------------------------------------------------------------

    async def load(self, *, repair: bool) -> LoadResult:
        """Read meta and rows in one repeatable-read transaction (see `StateStore.load`)."""
        try:
            if repair:
                return await self._repairing_load(await self._writer())
            async with self._the_pool().connection() as conn:
                cur = await conn.execute(
                    "SELECT to_regclass(format('%%I.meta', %s::text))", (self.schema,)
                )
                exists = await cur.fetchone()
                if not exists or exists[0] is None:
                    return LoadResult(None)
                meta, rows = await self._read(conn)
        except self._errors() as exc:
            raise self._error(exc) from None
        return load_result(decode_store(meta, rows), row_count=len(rows), moved_to=None)

    async def _read(
        self, conn: AsyncConnection[Any]
    ) -> tuple[tuple[str, str] | None, list[tuple[str, str, str, str]]]:
        await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            cur = await conn.execute(self._q("SELECT data, checksum FROM {s}.meta WHERE id = 1"))
            meta = await cur.fetchone()
            cur = await conn.execute(
                self._q("SELECT kind, key, data::text, checksum FROM {s}.rows")
            )
            raw = await cur.fetchall()
        finally:
            await conn.execute("COMMIT")
        rows = [(kind, key, _canonical(data), checksum) for kind, key, data, checksum in raw]
        return (None if meta is None else (meta[0], meta[1])), rows

    async def _repairing_load(self, conn: AsyncConnection[Any]) -> LoadResult:
        meta, rows = await self._read(conn)
        decoded = decode_store(meta, rows)
        where = f"table {self.schema}.quarantine"
        result = load_result(decoded, row_count=len(rows), moved_to=where)
        if decoded.whole_reason is None and not decoded.bad_rows:
            return result
        now = time.time()
        move = (
            "INSERT INTO {s}.quarantine (kind, key, data, checksum, reason, set_aside_at) "
            "SELECT kind, key, data::text, checksum, %s, %s FROM {s}.rows"
        )
        async with conn.transaction():
            if decoded.whole_reason is not None:
                await conn.execute(
                    self._q(
                        "INSERT INTO {s}.quarantine (kind, key, data, checksum, reason, "
                        "set_aside_at) SELECT 'meta', 'meta', data, checksum, %s, %s FROM {s}.meta"
                    ),
                    (decoded.whole_reason, now),
                )
                await conn.execute(self._q(move), (decoded.whole_reason, now))
                await conn.execute(self._q("DELETE FROM {s}.rows"))
                await conn.execute(self._q("DELETE FROM {s}.meta"))
            for kind, key, reason in decoded.bad_rows:
                await conn.execute(
                    self._q(move + " WHERE kind = %s AND key = %s"), (reason, now, kind, key)
                )
                await conn.execute(
                    self._q("DELETE FROM {s}.rows WHERE kind = %s AND key = %s"), (kind, key)
                )
        return result

    # --- write ------------------------------------------------------------------

    async def write(self, batch: WriteBatch) -> None:
        """Upsert/delete the rows and the meta row in one transaction on the lock session."""
        try:
            conn = await self._writer()
            upserts = [(r.kind, r.key, r.data, r.checksum) for r in batch.rows if r.data]
            deletes = [(r.kind, r.key) for r in batch.rows if r.data is None]
            async with conn.transaction():
                cur = conn.cursor()
                if batch.replace:
                    await cur.execute(self._q("DELETE FROM {s}.rows"))
                    copy_sql = self._q("COPY {s}.rows (kind, key, data, checksum) FROM STDIN")
                    async with cur.copy(copy_sql) as copy:
                        for values in upserts:
                            await copy.write_row(values)
                else:
                    if upserts:
                        await cur.executemany(
                            self._q(
                                "INSERT INTO {s}.rows (kind, key, data, checksum) "
                                "VALUES (%s, %s, %s::jsonb, %s) ON CONFLICT (kind, key) DO "
                                "UPDATE SET data = excluded.data, checksum = excluded.checksum"
                            ),
                            upserts,
                        )
                    if deletes:
                        await cur.executemany(
                            self._q("DELETE FROM {s}.rows WHERE kind = %s AND key = %s"), deletes
                        )
                await cur.execute(
                    self._q(
                        "INSERT INTO {s}.meta (id, data, checksum) VALUES (1, %s, %s) "
                        "ON CONFLICT (id) DO UPDATE SET data = excluded.data, "
                        "checksum = excluded.checksum"
                    ),
                    (batch.meta_data, batch.meta_checksum),
                )
        except StoreError:
            raise
        except self._errors() as exc:
            await self._drop_if_unusable()
            raise self._error(exc) from None

    async def _drop_if_unusable(self) -> None:
        """After a failed write, give up a session that is not cleanly idle.

        A session killed mid-pipeline can stay 'busy' without being marked broken; reusing it
        would fail every later write. Closing it also drops its lock, which `_writer` takes
        again (or finds taken) before the next write.
        """
        from psycopg import pq

        conn = self._conn
        if conn is None:
            return
        if conn.broken or conn.closed or conn.info.transaction_status != pq.TransactionStatus.IDLE:
            self._conn = None
            await conn.close()
            await self._put_back(conn)


def _canonical(text: str) -> str:
    try:
        return encode_json(json.loads(text))
    except ValueError:
        return text
