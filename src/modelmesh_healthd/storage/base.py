"""The StateStore protocol and the plain values that cross it.

A store persists a SystemState as *rows* (one per provider, model and pool, plus each pool's
member list) and an envelope (schema version, writer, epoch, write time). The StateManager
decides what to write and when; a store only knows how to write a batch of rows atomically,
read everything back with per-row integrity checks, set corrupt data aside, and hold the
single-writer lock.

Row backends (SQLite, Redis, PostgreSQL, memory) store the rows as they are, so the cost of a
write follows the size of the batch, not of the fleet. The file backend keeps whole documents
(a JSON snapshot readable by ModelMesh) and rewrites the file on every write.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import NamedTuple, Protocol, Self, runtime_checkable

from modelmesh_healthd.state.system import Snapshot

__all__ = [
    "Envelope",
    "LoadResult",
    "LockHandle",
    "LockOwner",
    "Row",
    "SetAside",
    "StateStore",
    "WriteBatch",
]


@dataclass(frozen=True, slots=True)
class LockOwner:
    """Who holds (or asks for) a store's writer lock.

    Attributes:
        writer_id: The daemon's writer id (instance name).
        host: Host name of the holder.
        pid: Process id of the holder.
        since: Unix timestamp at which the lock was taken.
        token: Random id of this holding, so a writer can tell its own lock from a successor's.
    """

    writer_id: str
    host: str
    pid: int
    since: float
    token: str

    @classmethod
    def for_this_process(cls, writer_id: str, since: float) -> LockOwner:
        """An owner record describing the calling process."""
        return cls(writer_id, socket.gethostname(), os.getpid(), since, uuid.uuid4().hex)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (stored beside the lock so a refused writer can name the owner)."""
        return {
            "writer_id": self.writer_id,
            "host": self.host,
            "pid": self.pid,
            "since": self.since,
            "token": self.token,
        }

    @classmethod
    def from_dict(cls, data: object) -> LockOwner | None:
        """Parse `to_dict()` output; None when it is not a valid owner record."""
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                writer_id=str(data["writer_id"]),
                host=str(data["host"]),
                pid=int(data["pid"]),
                since=float(data["since"]),
                token=str(data["token"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class LockHandle:
    """Proof of holding a store's writer lock; give it back to `release_lock`.

    Attributes:
        store: The (redacted) URL of the locked store.
        owner: The holder's record, as stored beside the lock.
    """

    store: str
    owner: LockOwner


class Row(NamedTuple):
    """One stored row: a kind (`provider`, `model`, `pool`, `members`), a key, and its JSON.

    A tuple (not a dataclass) because a full save makes one per provider and model, and its four
    fields are exactly what an SQL backend binds.

    Attributes:
        kind: Which table/hash the row belongs to.
        key: The entity's id (for `pool` and `members`: the pool's id).
        data: Canonical JSON text of the entity; None deletes the row.
        checksum: `sha256:<hex>` over kind, key and data; None with `data` None.
    """

    kind: str
    key: str
    data: str | None
    checksum: str | None


@dataclass(frozen=True, slots=True)
class Envelope:
    """The metadata written with every batch (the meta row).

    Attributes:
        schema_version: Layout version of the state in the rows.
        written_at: Unix timestamp of the write.
        writer_id: Which daemon wrote it.
        epoch: Increases with every write to the store.
        timestamp: The state's own `timestamp` (last change).
    """

    schema_version: int
    written_at: float
    writer_id: str
    epoch: int
    timestamp: float | None


@dataclass(frozen=True, slots=True)
class WriteBatch:
    """Everything one flush writes, in one transaction.

    Attributes:
        envelope: The new meta row.
        rows: Upserts (and deletions, `data` None).
        replace: True for a full save: every row not in `rows` is deleted too.
        meta_data: Canonical JSON of the meta row (derived from `envelope`).
        meta_checksum: Checksum of the meta row.
    """

    envelope: Envelope
    rows: list[Row]
    replace: bool
    meta_data: str
    meta_checksum: str


@dataclass(frozen=True, slots=True)
class SetAside:
    """Corrupt data found at load, and where it was put so it is never silently overwritten.

    Attributes:
        what: What was corrupt (`file state.json`, `row model 'gpt-4o'`, `whole store`).
        reason: Why it was rejected.
        moved_to: Where it now is; None when the reader only skipped it (read-only access).
    """

    what: str
    reason: str
    moved_to: str | None


@dataclass(slots=True)
class LoadResult:
    """What a store found at load.

    Attributes:
        snapshot: The restored snapshot (the good remainder when rows were bad), or None when
            the store was empty or everything in it was corrupt.
        set_aside: The corrupt pieces, each set aside (or skipped, for a read-only load).
        epoch: The highest epoch seen in the store, even when its data was unusable, so that a
            new writer continues the count.
    """

    snapshot: Snapshot | None
    set_aside: list[SetAside] = field(default_factory=list)
    epoch: int = 0


@runtime_checkable
class StateStore(Protocol):
    """A place to persist the daemon's state, chosen by URL (see `open_store`).

    Lifecycle: `async with store:` opens connections, pools or files and closes them on exit
    (it can be opened again, so a failed start can be retried). A writer then takes the lock
    (`acquire_lock`), loads with `repair=True` (corrupt data is set aside), and writes batches
    (`write`). A reader in another process only loads with `repair=False`, takes no lock and
    changes nothing.

    The first `write` of a writer's session is a full one (`replace=True`); later ones may carry
    only the changed rows. Each `write` is atomic: after a crash at any moment the store loads
    as the previous write or the newest, never a mix.

    Errors: `StoreUnavailableError` for a backend that cannot be reached or refuses the write
    (transient; retried by the manager), `StoreResetError` when the backend lost its data,
    `StoreLockedError` when another writer holds the lock, `LockLostError` when this writer's
    lock was taken over.
    """

    url: str
    """The store's URL with any password redacted: safe to log."""

    incremental: bool
    """True when a write costs the size of the batch; False when it rewrites a whole document."""

    async def __aenter__(self) -> Self:
        """Open the store (connections, pools, directories)."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close everything the store opened (the lock, if still held, is released)."""
        ...

    async def acquire_lock(self, owner: LockOwner) -> LockHandle:
        """Become the store's single writer.

        Args:
            owner: Who asks: stored beside the lock so a refused writer can name the holder.

        Returns:
            The handle to release the lock with.

        Raises:
            StoreLockedError: Another live writer holds the lock (a dead one's is reclaimed).
            StoreUnavailableError: The backend cannot be reached.
        """
        ...

    async def release_lock(self, handle: LockHandle) -> None:
        """Give the lock back (a no-op when it is no longer held by `handle`)."""
        ...

    async def lock_owner(self) -> LockOwner | None:
        """Who holds the lock now (None: nobody, or the store cannot tell)."""
        ...

    async def load(self, *, repair: bool) -> LoadResult:
        """Read the whole state back, verifying every row.

        Args:
            repair: True (the lock holder only): corrupt data is moved aside in the store
                (renamed file, quarantine table/hash) and the store is made ready for writes.
                False: read-only, corrupt data is skipped and reported but left in place.

        Returns:
            The snapshot (or the consistent good remainder) and what was set aside.

        Raises:
            StoreUnavailableError: The backend cannot be reached.
        """
        ...

    async def write(self, batch: WriteBatch) -> None:
        """Write one batch atomically.

        Raises:
            StoreUnavailableError: Nothing was written; retry later.
            StoreResetError: The backend lost its data, or (row backends) an incremental
                batch does not follow the store's last write (its meta row must hold the
                batch's epoch minus one): write everything again.
            LockLostError: Another writer took the lock over.
        """
        ...

    async def ping(self) -> None:
        """Check the backend is reachable (cheap).

        Raises:
            StoreUnavailableError: It is not.
        """
        ...
