"""`sqlite:////abs/path/state.db` (the default): rows in an embedded SQLite database, WAL mode.

Every call runs on one dedicated thread (a sqlite3 connection belongs to the thread that made
it), so the event loop never waits on disk; `asyncio.to_thread` around `sqlite3` does what
aiosqlite would, without a dependency. Each write is one `BEGIN IMMEDIATE ... COMMIT`
transaction of row upserts, so its cost follows the batch, not the fleet. WAL lets readers in
other processes read a consistent snapshot while the daemon writes.

Options (URL query): `synchronous=normal|full` (default `normal`: a process crash never loses a
commit; `full` also survives power loss at the price of an fsync per write), `busy_timeout`
milliseconds (default 5000).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar
from urllib.parse import quote

from modelmesh_healthd.storage._paths import corrupt_name, path_from_url
from modelmesh_healthd.storage.base import (
    LoadResult,
    LockHandle,
    LockOwner,
    SetAside,
    WriteBatch,
)
from modelmesh_healthd.storage.errors import (
    StoreError,
    StoreResetError,
    StoreUnavailableError,
    StoreURLError,
)
from modelmesh_healthd.storage.filelock import FileLock
from modelmesh_healthd.storage.row_decode import decode_store, load_result
from modelmesh_healthd.storage.row_encode import check_follows
from modelmesh_healthd.storage.urls import redact_url, split_options

__all__ = ["DB_LAYOUT", "SQLiteStore"]

_T = TypeVar("_T")

DB_LAYOUT = 1
"""`PRAGMA user_version` of the tables below; a database with a higher one is set aside."""

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS rows (kind TEXT NOT NULL, key TEXT NOT NULL, "
    "data TEXT NOT NULL, checksum TEXT NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "data TEXT NOT NULL, checksum TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS quarantine (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT, checksum TEXT, "
    "reason TEXT NOT NULL, set_aside_at REAL NOT NULL)",
)
_CACHE_KIB = 512
"""The writer's page cache between full saves. An incremental write touches a handful of pages
(the rest come from the OS's file cache), so a cache smaller than SQLite's default costs nothing
per change and keeps less memory per provider; a cache as large as the database would keep all
of it (docs/benchmarks.md, bench/persistence.py)."""
_BULK_CACHE_KIB = 65536
"""The page cache during a full save, handed back when it ends."""


def _shrink_cache(conn: sqlite3.Connection) -> None:
    """Back to the small cache, and free what the full save's pages held (otherwise kept for the
    life of the daemon: a copy of the database; see docs/benchmarks.md)."""
    with contextlib.suppress(sqlite3.Error):
        conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
        conn.execute("PRAGMA shrink_memory")


_UPSERT = (
    "INSERT INTO rows (kind, key, data, checksum) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, checksum = excluded.checksum"
)
_META = (
    "INSERT INTO meta (id, data, checksum) VALUES (1, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET data = excluded.data, checksum = excluded.checksum"
)


class _CorruptFileError(Exception):
    """The database file itself is unusable (not a database, malformed, newer layout)."""


class SQLiteStore:
    """Row store in one SQLite file; the writer lock is an flock on `state.db.lock`."""

    incremental = True

    def __init__(self, url: str) -> None:
        """Args:
        url: `sqlite:////absolute/path.db`, `sqlite:///relative/path.db` (SQLAlchemy's
            forms) or `sqlite:relative/path.db`, options in the query.
        """
        self.url = redact_url(url)
        bare, options = split_options(url, {"synchronous": "normal", "busy_timeout": "5000"})
        self.path = path_from_url(bare, url)
        sync = options["synchronous"].lower()
        if sync not in ("normal", "full"):
            raise StoreURLError(f"{url}: synchronous must be normal or full, got {sync!r}")
        try:
            self._busy_s = int(options["busy_timeout"]) / 1000.0
        except ValueError:
            raise StoreURLError(f"{url}: busy_timeout must be milliseconds") from None
        self._synchronous = sync
        self._lock = FileLock(self.path.with_name(self.path.name + ".lock"), url)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None

    async def _run(self, fn: Callable[..., _T], *args: object) -> _T:
        if self._executor is None:
            raise StoreError(f"{self.url}: the store is not open (use `async with`)")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def __aenter__(self) -> Self:
        # One thread for the store's life: a sqlite3 connection belongs to its thread.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="healthd-sqlite")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._run(self._close)
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
            self._executor = None

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        self._lock.release()

    # --- lock -----------------------------------------------------------------

    async def acquire_lock(self, owner: LockOwner) -> LockHandle:
        """flock `state.db.lock` (see `StateStore.acquire_lock`)."""

        def acquire() -> None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailableError(f"cannot create {self.path.parent}: {exc}") from None
            self._lock.acquire(owner)

        await self._run(acquire)
        return LockHandle(self.url, owner)

    async def release_lock(self, handle: LockHandle) -> None:
        """Drop the flock (see `StateStore.release_lock`)."""
        await self._run(self._lock.release)

    async def lock_owner(self) -> LockOwner | None:
        """The live holder named in the lock file."""
        return await self._run(self._lock.current_owner)

    async def ping(self) -> None:
        """Check the database file is still the one this writer opened (or the dir exists)."""
        await self._run(self._ping)

    def _ping(self) -> None:
        if self._conn is not None:
            self._check_identity()
        elif not self.path.parent.is_dir():
            raise StoreUnavailableError(f"directory {self.path.parent} does not exist")

    # --- the writer's connection ------------------------------------------------

    def _open_writer(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        try:
            conn = sqlite3.connect(
                self.path, timeout=self._busy_s, isolation_level=None, check_same_thread=True
            )
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"cannot open {self.path}: {exc}") from None
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > DB_LAYOUT:
                raise _CorruptFileError(
                    f"database layout {version} is newer than this daemon's {DB_LAYOUT}"
                )
            # Before anything is created: larger pages (and a large cache while it runs, see
            # `_write_sync`) make a large fleet's full save much faster (bench/persistence.py,
            # docs/benchmarks.md). page_size is a no-op on an existing WAL database, which keeps
            # its pages.
            conn.execute("PRAGMA page_size=16384")
            conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous.upper()}")
            if version < DB_LAYOUT:
                conn.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={DB_LAYOUT}")
                conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            conn.close()
            raise StoreUnavailableError(f"cannot prepare {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise _CorruptFileError(str(exc)) from None
        except _CorruptFileError:
            conn.close()
            raise
        st = os.stat(self.path)
        self._conn, self._identity = conn, (st.st_dev, st.st_ino)
        return conn

    def _check_identity(self) -> None:
        """Fail over to a fresh database when the file was removed or replaced under us.

        Writes into a deleted file would succeed and vanish; this turns them into a reset.
        """
        try:
            st = os.stat(self.path)
            same = (st.st_dev, st.st_ino) == self._identity
        except FileNotFoundError:
            same = False
        except OSError as exc:
            raise StoreUnavailableError(f"cannot stat {self.path}: {exc}") from None
        if same:
            return
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        try:
            self._open_writer()
        except _CorruptFileError as exc:
            raise StoreUnavailableError(f"{self.path} was replaced by a bad file: {exc}") from None
        raise StoreResetError(f"{self.path} was removed or replaced; rewriting it in full")

    # --- load -------------------------------------------------------------------

    async def load(self, *, repair: bool) -> LoadResult:
        """Read every row in one read transaction (see `StateStore.load`).

        With `repair`, bad rows move to the `quarantine` table; a file that is not a usable
        database is renamed `state.db.corrupt-<time>` (with its -wal and -shm) and a fresh
        database is created. An empty (0-byte) file is an empty database to SQLite: no
        snapshot, nothing to set aside.
        """
        return await self._run(self._load_sync, repair)

    def _load_sync(self, repair: bool) -> LoadResult:
        if not repair:
            return self._read_only_load()
        try:
            conn = self._open_writer()
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise _CorruptFileError(f"quick_check: {check}")
            meta, rows = self._read(conn)
        except _CorruptFileError as exc:
            return self._set_aside_file(str(exc))
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(f"cannot read {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            return self._set_aside_file(str(exc))
        decoded = decode_store(meta, rows)
        result = load_result(decoded, row_count=len(rows), moved_to="the quarantine table")
        if decoded.whole_reason is not None or decoded.bad_rows:
            self._quarantine(conn, decoded.whole_reason, decoded.bad_rows)
        return result

    def _read_only_load(self) -> LoadResult:
        if not self.path.exists():
            return LoadResult(None)
        uri = f"file:{quote(str(self.path.absolute()))}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=self._busy_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"cannot open {self.path}: {exc}") from None
        try:
            has_tables = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE name IN ('rows', 'meta')"
            ).fetchone()[0]
            if has_tables < 2:
                return LoadResult(None)
            meta, rows = self._read(conn)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(f"cannot read {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            return LoadResult(None, [SetAside(f"database {self.path}", str(exc), None)])
        finally:
            conn.close()
        return load_result(decode_store(meta, rows), row_count=len(rows), moved_to=None)

    @staticmethod
    def _read(
        conn: sqlite3.Connection,
    ) -> tuple[tuple[str, str] | None, list[tuple[str, str, str, str]]]:
        conn.execute("BEGIN")  # one read transaction: meta and rows from the same commit
        try:
            found = conn.execute("SELECT data, checksum FROM meta WHERE id = 1").fetchone()
            rows = conn.execute("SELECT kind, key, data, checksum FROM rows").fetchall()
        finally:
            conn.execute("COMMIT")
        return (None if found is None else (found[0], found[1])), rows

    def _quarantine(
        self,
        conn: sqlite3.Connection,
        whole_reason: str | None,
        bad_rows: list[tuple[str, str, str]],
    ) -> None:
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        try:
            if whole_reason is not None:
                conn.execute(
                    "INSERT INTO quarantine (kind, key, data, checksum, reason, set_aside_at) "
                    "SELECT 'meta', 'meta', data, checksum, ?, ? FROM meta",
                    (whole_reason, now),
                )
                conn.execute(
                    "INSERT INTO quarantine (kind, key, data, checksum, reason, set_aside_at) "
                    "SELECT kind, key, data, checksum, ?, ? FROM rows",
                    (whole_reason, now),
                )
                conn.execute("DELETE FROM rows")
                conn.execute("DELETE FROM meta")
            for kind, key, reason in bad_rows:
                conn.execute(
                    "INSERT INTO quarantine (kind, key, data, checksum, reason, set_aside_at) "
                    "SELECT kind, key, data, checksum, ?, ? FROM rows WHERE kind = ? AND key = ?",
                    (reason, now, kind, key),
                )
                conn.execute("DELETE FROM rows WHERE kind = ? AND key = ?", (kind, key))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise StoreUnavailableError(
                f"cannot set bad rows aside in {self.path}: {exc}"
            ) from None

    def _set_aside_file(self, reason: str) -> LoadResult:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        target = corrupt_name(self.path)
        try:
            os.replace(self.path, target)
            for suffix in ("-wal", "-shm"):
                side = Path(f"{self.path}{suffix}")
                if side.exists():
                    os.replace(side, Path(f"{target}{suffix}"))
        except OSError as exc:
            raise StoreUnavailableError(f"cannot set {self.path} aside: {exc}") from None
        try:
            self._open_writer()
        except _CorruptFileError as exc:  # pragma: no cover - a fresh file cannot be corrupt
            raise StoreUnavailableError(str(exc)) from None
        return LoadResult(None, [SetAside(f"database {self.path}", reason, str(target))])

    # --- write ------------------------------------------------------------------

    async def write(self, batch: WriteBatch) -> None:
        """Upsert and delete the batch's rows and the meta row in one transaction."""
        await self._run(self._write_sync, batch)

    def _write_sync(self, batch: WriteBatch) -> None:
        self._lock.verify()
        lost = self._conn is None and self._identity is not None
        if self._conn is not None:
            self._check_identity()  # raises StoreResetError when it had to start a new file
        try:
            conn = self._open_writer()  # the open connection, or a new one after a failure
        except _CorruptFileError as exc:
            raise StoreUnavailableError(f"{self.path} is not usable: {exc}") from None
        if lost:
            # The database this writer had was removed and could not be reopened at once; the
            # one just opened starts empty, so an incremental batch would leave it partial.
            raise StoreResetError(f"{self.path} was removed or replaced; rewriting it in full")
        # A Row is a (kind, key, data, checksum) tuple: SQLite binds it as it is.
        upserts = [r for r in batch.rows if r.data is not None]
        deletes = [(r.kind, r.key) for r in batch.rows if r.data is None]
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if not batch.replace:
                    found = conn.execute("SELECT data FROM meta WHERE id = 1").fetchone()
                    check_follows(None if found is None else found[0], batch, str(self.path))
                if batch.replace:
                    conn.execute(f"PRAGMA cache_size=-{_BULK_CACHE_KIB}")
                    conn.execute("DELETE FROM rows")
                    conn.executemany(
                        "INSERT INTO rows (kind, key, data, checksum) VALUES (?, ?, ?, ?)", upserts
                    )
                else:
                    conn.executemany(_UPSERT, upserts)
                    conn.executemany("DELETE FROM rows WHERE kind = ? AND key = ?", deletes)
                conn.execute(_META, (batch.meta_data, batch.meta_checksum))
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            finally:
                if batch.replace:
                    _shrink_cache(conn)
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"cannot write {self.path}: {exc}") from None
