"""`memory://NAME`: rows kept in this process, for tests and for the `in-memory` policy.

Stores opened with the same NAME share one space (and its lock) within the process, so two
managers or a reader can be pointed at it like at a real backend. `memory://` alone is private
to the store object. Nothing survives the process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from modelmesh_healthd.storage.base import LoadResult, LockHandle, LockOwner, WriteBatch
from modelmesh_healthd.storage.errors import StoreLockedError
from modelmesh_healthd.storage.row_decode import decode_store, load_result
from modelmesh_healthd.storage.urls import redact_url

__all__ = ["MemoryStore"]


@dataclass(slots=True)
class _Space:
    meta: tuple[str, str] | None = None
    rows: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    quarantine: list[tuple[str, str, str, str, str, float]] = field(default_factory=list)
    owner: LockOwner | None = None


_SPACES: dict[str, _Space] = {}


class MemoryStore:
    """Row store in a dict. Every operation is synchronous under the hood (nothing to await)."""

    incremental = True

    def __init__(self, url: str) -> None:
        """Args:
        url: `memory://NAME` (shared by name within the process) or `memory://` (private).
        """
        self.url = redact_url(url)
        name = urlsplit(url).netloc + urlsplit(url).path
        self._space = _SPACES.setdefault(name, _Space()) if name else _Space()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def acquire_lock(self, owner: LockOwner) -> LockHandle:
        """Take the space's lock (see `StateStore.acquire_lock`)."""
        if self._space.owner is not None and self._space.owner.token != owner.token:
            raise StoreLockedError(self.url, self._space.owner)
        self._space.owner = owner
        return LockHandle(self.url, owner)

    async def release_lock(self, handle: LockHandle) -> None:
        """Give the lock back (see `StateStore.release_lock`)."""
        if self._space.owner is not None and self._space.owner.token == handle.owner.token:
            self._space.owner = None

    async def lock_owner(self) -> LockOwner | None:
        """The holder, if any."""
        return self._space.owner

    async def load(self, *, repair: bool) -> LoadResult:
        """Verify and return the rows (see `StateStore.load`)."""
        space = self._space
        decoded = decode_store(
            space.meta, [(k, key, d, c) for (k, key), (d, c) in space.rows.items()]
        )
        moved_to = "the memory store's quarantine" if repair else None
        result = load_result(decoded, row_count=len(space.rows), moved_to=moved_to)
        if repair and (decoded.whole_reason or decoded.bad_rows):
            now = time.time()
            if decoded.whole_reason is not None:
                moved = list(space.rows)
                reason = decoded.whole_reason
                if space.meta is not None:
                    space.quarantine.append(("meta", "meta", *space.meta, reason, now))
                space.meta = None
            else:
                moved = [(kind, key) for kind, key, _ in decoded.bad_rows]
            reasons = {(k, key): r for k, key, r in decoded.bad_rows}
            for kind_key in moved:
                data, checksum = space.rows.pop(kind_key)
                why = reasons.get(kind_key, decoded.whole_reason or "")
                space.quarantine.append((*kind_key, data, checksum, why, now))
        return result

    async def write(self, batch: WriteBatch) -> None:
        """Apply a batch (see `StateStore.write`)."""
        space = self._space
        if batch.replace:
            space.rows.clear()
        for row in batch.rows:
            if row.data is None or row.checksum is None:
                space.rows.pop((row.kind, row.key), None)
            else:
                space.rows[(row.kind, row.key)] = (row.data, row.checksum)
        space.meta = (batch.meta_data, batch.meta_checksum)

    async def ping(self) -> None:
        """Always reachable."""

    # --- test helpers (the memory store is the one backend tests may reach into) -----------

    def raw_rows(self) -> dict[tuple[str, str], tuple[str, str]]:
        """The stored rows, (kind, key) -> (data, checksum); mutable, so tests can damage them."""
        return self._space.rows

    def raw_meta(self) -> tuple[str, str] | None:
        """The stored meta row, (data, checksum)."""
        return self._space.meta

    def replace_meta(self, data: str, checksum: str) -> None:
        """Overwrite the meta row as it is stored (tests damage it this way)."""
        self._space.meta = (data, checksum)

    def quarantined(self) -> list[tuple[str, str, str, str, str, float]]:
        """Rows set aside: (kind, key, data, checksum, reason, when)."""
        return self._space.quarantine

    @staticmethod
    def drop(name: str) -> None:
        """Forget a named space."""
        _SPACES.pop(name, None)
