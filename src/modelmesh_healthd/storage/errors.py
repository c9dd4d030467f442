"""The errors a state store raises. Every message is safe to log: no credentials in it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelmesh_healthd.storage.base import LockOwner

__all__ = [
    "LockLostError",
    "StoreError",
    "StoreLockedError",
    "StoreResetError",
    "StoreURLError",
    "StoreUnavailableError",
]


class StoreError(Exception):
    """Base of every state store error."""


class StoreURLError(StoreError, ValueError):
    """A store URL that names no known backend or carries a bad option."""


class StoreUnavailableError(StoreError):
    """The backend cannot be reached or refused the operation (down, disk full, read-only).

    Transient by nature: the manager keeps the changes and retries with backoff.
    """


class StoreResetError(StoreUnavailableError):
    """The backend came back without the data it held (a Redis without persistence restarted,
    a database file vanished). Nothing is lost on our side: the next save must be a full one."""


class StoreLockedError(StoreError):
    """Another writer holds the store's lock: a second daemon must not become a second writer.

    Attributes:
        owner: Who holds the lock, when the store could tell.
    """

    def __init__(self, store: str, owner: LockOwner | None) -> None:
        self.owner = owner
        self.store = store
        if owner is None:
            who = "another writer (owner unknown)"
        else:
            since = datetime.fromtimestamp(owner.since, UTC).isoformat(timespec="seconds")
            who = f"writer {owner.writer_id!r} (host {owner.host}, pid {owner.pid}, since {since})"
        super().__init__(f"state store {store} is locked by {who}")


class LockLostError(StoreError):
    """This writer no longer holds the lock (another writer took it over): stop writing."""
