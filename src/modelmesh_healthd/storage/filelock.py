"""The writer lock of the file and SQLite backends: `flock` on a `<store>.lock` file beside it.

The kernel drops an flock when its holder dies, however it dies, so a crashed daemon's lock is
reclaimed by the next one without any timeout. The holder writes its owner record into the lock
file so a refused daemon can say who holds the store. Lock files are never unlinked: unlinking
races with another process that has just opened the same name.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from pathlib import Path

from modelmesh_healthd.storage.base import LockOwner
from modelmesh_healthd.storage.errors import (
    LockLostError,
    StoreLockedError,
    StoreUnavailableError,
)

__all__ = ["FileLock"]


class FileLock:
    """An exclusive, non-blocking flock with an owner record. Blocking calls: run off the loop."""

    def __init__(self, path: Path, store: str) -> None:
        """Args:
        path: The lock file (created when missing).
        store: The store's redacted URL, for messages.
        """
        self.path = path
        self._store = store
        self._fd: int | None = None
        self._owner: LockOwner | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def _try_lock(self, owner: LockOwner) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreUnavailableError(f"cannot open lock file {self.path}: {exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLockedError(self._store, self.read_owner()) from None
        except OSError as exc:
            os.close(fd)
            raise StoreUnavailableError(f"cannot lock {self.path}: {exc}") from None
        record = json.dumps(owner.to_dict()).encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, record, 0)
        except OSError:
            # The owner record is only informative; the flock is what excludes other writers.
            pass
        return fd

    def acquire(self, owner: LockOwner) -> None:
        """Take the lock.

        Raises:
            StoreLockedError: Another process (or another open of this file) holds it.
            StoreUnavailableError: The lock file cannot be created.
        """
        if self._fd is not None:
            return
        self._fd = self._try_lock(owner)
        self._owner = owner

    def verify(self) -> None:
        """Check the lock file on disk is still the one locked; re-take it when it was replaced.

        A removed and recreated state directory leaves this process locking a file nobody else
        can see; another daemon could then lock the new one. Called before every write.

        Raises:
            LockLostError: The new lock file is held by another writer.
            StoreUnavailableError: The lock file is gone and cannot be recreated yet.
        """
        if self._fd is None or self._owner is None:
            raise LockLostError(f"state store {self._store}: the writer lock is not held")
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            on_disk = None
        except OSError as exc:
            raise StoreUnavailableError(f"cannot stat lock file {self.path}: {exc}") from None
        mine = os.fstat(self._fd)
        if on_disk is not None and (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino):
            return
        try:
            fd = self._try_lock(self._owner)
        except StoreLockedError as exc:
            raise LockLostError(str(exc)) from None
        os.close(self._fd)
        self._fd = fd

    def release(self) -> None:
        """Give the lock up (clearing the owner record first)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor drops the flock

    def read_owner(self) -> LockOwner | None:
        """The owner record in the lock file (None when absent or unreadable)."""
        try:
            raw = self.path.read_bytes()
        except OSError:
            return None
        try:
            return LockOwner.from_dict(json.loads(raw))
        except ValueError:
            return None

    def current_owner(self) -> LockOwner | None:
        """The holder named in the lock file, unless it is a process of this host that is gone.

        This only reads: probing the flock itself could make a daemon starting at that instant
        see the store as locked.
        """
        if self._fd is not None:
            return self._owner
        owner = self.read_owner()
        if owner is None or owner.host != socket.gethostname():
            return owner
        try:
            os.kill(owner.pid, 0)
        except ProcessLookupError:
            return None  # a crashed holder: its record stays, its flock is gone
        except PermissionError:
            return owner  # alive, owned by another user
        return owner
