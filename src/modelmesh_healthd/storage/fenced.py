"""FencedStore: a row store shared by replicas, every write fenced by the store's leases.

It stands where the single-writer store stood, under the same StateManager, so the manager's
batching, retries and sync status work unchanged. What differs:

* there is no writer lock: the replica's membership and leases (`Coordination`) replace it;
* a batch is cut by shard (provider, pool) and only the shards this replica holds a lease on
  are sent, each with its fencing token; the store writes a shard's rows only if its lease
  still carries that token (see `storage.coordination`);
* a full save (`replace`) deletes nothing: the other rows belong to other replicas;
* the meta row takes its epoch from the store's counter, so it grows across replicas;
* a load never repairs: set-aside is a single writer's job.

A shard the store refused is logged `store.write_fenced`, counted, and dropped from the
replica's leases: the replica stops probing and writing it at once.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Self

import structlog

from modelmesh_healthd.storage.base import (
    Envelope,
    LoadResult,
    LockHandle,
    LockOwner,
    Row,
    StateStore,
    WriteBatch,
)
from modelmesh_healthd.storage.coordination import Coordination, ShardRows, shard_of_row
from modelmesh_healthd.storage.log import LOGGER_NAME
from modelmesh_healthd.storage.row_encode import make_batch

__all__ = ["FencedStore", "Leases"]

_log = structlog.get_logger(LOGGER_NAME)


class Leases:
    """The leases a replica holds: shard -> (fencing token, local deadline).

    The local deadline is the monotonic time the claim or renewal was *sent* plus the TTL: the
    store set the expiry later than that, so the replica stops believing in a lease no later
    than the store stops honouring it (a replica paused past its TTL wakes up owning nothing).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Args:
        clock: Monotonic seconds.
        """
        self._clock = clock
        self._held: dict[str, tuple[int, float]] = {}

    def owns(self, shard: str) -> bool:
        """True while the lease on `shard` is held and not past its local deadline."""
        held = self._held.get(shard)
        return held is not None and self._clock() < held[1]

    def token(self, shard: str) -> int | None:
        """The token of a held, unexpired lease."""
        held = self._held.get(shard)
        return held[0] if held is not None and self._clock() < held[1] else None

    def tokens(self) -> dict[str, int]:
        """Every held lease's token (expired ones included, so they can be released)."""
        return {shard: token for shard, (token, _) in self._held.items()}

    def expired(self) -> set[str]:
        """Held leases past their local deadline."""
        now = self._clock()
        return {shard for shard, (_, deadline) in self._held.items() if deadline <= now}

    def grant(self, shard: str, token: int, deadline: float) -> None:
        """Record a claimed or renewed lease."""
        self._held[shard] = (token, deadline)

    def drop(self, shards: set[str] | list[str]) -> None:
        """Forget leases (lost, fenced or released)."""
        for shard in shards:
            self._held.pop(shard, None)

    def __len__(self) -> int:
        return len(self._held)

    def shards(self) -> set[str]:
        """Shards of the unexpired leases."""
        now = self._clock()
        return {shard for shard, (_, deadline) in self._held.items() if deadline > now}


class FencedStore:
    """A `StateStore` for one replica among several (see the module docstring)."""

    incremental = True
    shared = True
    """Written by several replicas: there is no single-writer lock to log."""

    def __init__(
        self,
        inner: StateStore,
        coordination: Coordination,
        member: str,
        *,
        leases: Leases | None = None,
        on_fenced: Callable[[set[str]], None] | None = None,
    ) -> None:
        """Args:
        inner: The Redis or PostgreSQL store the rows live in.
        coordination: That store's membership, leases and fenced writes.
        member: This replica's member id.
        leases: The lease table the coordinator keeps up to date.
        on_fenced: Told the shards the store refused (the coordinator stops probing them).
        """
        self.inner = inner
        self.url = inner.url
        self.coordination = coordination
        self.member = member
        self.leases = leases or Leases()
        self.on_fenced = on_fenced
        self.fenced_writes = 0
        """Shards whose rows the store refused, since start (a metric)."""
        self.epoch_floor = 0

    async def __aenter__(self) -> Self:
        await self.inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.inner.__aexit__(exc_type, exc, tb)

    async def acquire_lock(self, owner: LockOwner) -> LockHandle:
        """No writer lock among replicas: the handle only names this replica."""
        return LockHandle(self.url, owner)

    async def release_lock(self, handle: LockHandle) -> None:
        """Nothing to release (the coordinator leaves the membership)."""

    async def lock_owner(self) -> LockOwner | None:
        """Replicas hold leases per shard, not one lock."""
        return None

    async def load(self, *, repair: bool) -> LoadResult:
        """Read everything (never repairing: other replicas are writing)."""
        result = await self.inner.load(repair=False)
        self.epoch_floor = max(self.epoch_floor, result.epoch)
        return result

    async def ping(self) -> None:
        """The inner store's ping."""
        await self.inner.ping()

    async def write(self, batch: WriteBatch) -> None:
        """Send the rows of the shards held, each under its token (see the module docstring)."""
        by_shard: dict[str, list[Row]] = defaultdict(list)
        for row in batch.rows:
            by_shard[shard_of_row(row)].append(row)
        await self.write_rows(by_shard, batch.envelope)

    async def write_rows(self, by_shard: Mapping[str, list[Row]], envelope: Envelope) -> None:
        """Write rows grouped by shard; rows of shards not held are left to their owners.

        Raises:
            StoreUnavailableError: The store cannot be reached (nothing was written).
        """
        parts = []
        for shard, rows in by_shard.items():
            token = self.leases.token(shard)
            if token is not None and rows:
                parts.append(ShardRows(shard, token, rows))
        if not parts:
            return
        epoch = await self.coordination.next_epoch()
        meta = make_batch(
            Envelope(
                envelope.schema_version,
                envelope.written_at,
                envelope.writer_id,
                epoch,
                envelope.timestamp,
            ),
            [],
            replace=False,
        )
        refused = await self.coordination.fenced_write(
            self.member, parts, (meta.meta_data, meta.meta_checksum, epoch)
        )
        if refused:
            self.fenced_writes += len(refused)
            self.leases.drop(refused)
            _log.warning(
                "store.write_fenced",
                store=self.url,
                member=self.member,
                shards=sorted(refused)[:20],
                count=len(refused),
            )
            if self.on_fenced is not None:
                self.on_fenced(refused)
