"""`redis://[:password@]host:port/db`: rows in Redis hashes, written in MULTI/EXEC transactions.

Keys (under `prefix`, default `modelmesh-healthd:`): `rows:provider`, `rows:model`, `rows:pool`,
`rows:members` (hashes: row key -> `<checksum>\\n<json>`), `meta` (hash: data, checksum),
`quarantine` (hash of rows set aside), `lock` (the writer lease). Every write also PUBLISHes on
the channel `changed` (inside the same MULTI), so readers in other processes re-read at once.

The writer lock is a lease: `SET lock <owner> NX PX ttl`, renewed every third of the TTL and on
every write; a crashed writer's lease runs out and the next daemon takes the store over (at once
when the crashed holder was a process of the same host, provably gone). Every
write WATCHes the lease and checks it is still ours before its MULTI, so a writer that lost its
lease can never overwrite its successor. A lease that vanished (Redis restarted without
persistence) is taken again and the store is rewritten in full (StoreResetError).

Options (URL query): `prefix`, `lock_ttl` seconds (default 15), `timeout` seconds for connect and
each command (default 5); `replicas` and `lease_ttl` belong to the daemon's replicas (see
`storage.coordination`). Other query parameters go to redis-py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from modelmesh_healthd.storage.base import LoadResult, LockHandle, LockOwner, WriteBatch
from modelmesh_healthd.storage.errors import (
    LockLostError,
    StoreError,
    StoreLockedError,
    StoreResetError,
    StoreUnavailableError,
    StoreURLError,
)
from modelmesh_healthd.storage.redis_sockets import owned_client
from modelmesh_healthd.storage.row_decode import decode_store, load_result
from modelmesh_healthd.storage.row_encode import KINDS, check_follows
from modelmesh_healthd.storage.urls import redact_url, scrub, split_options, url_secrets

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisStore"]

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""
_CHUNK = 5000  # fields per HSET: keeps a full save's commands of bounded size


class RedisStore:
    """Row store in Redis hashes; one lease key for the single writer."""

    incremental = True

    def __init__(self, url: str) -> None:
        """Args:
        url: `redis://[[user]:password@]host[:port][/db][?prefix=...&lock_ttl=15&timeout=5]`
            (or `rediss://` for TLS).
        """
        self.url = redact_url(url)
        bare, options = split_options(
            url,
            # replicas and lease_ttl are the daemon's (see daemon.coordination): readers of
            # the same URL take them out too, so they never reach redis-py.
            {
                "prefix": "modelmesh-healthd:",
                "lock_ttl": "15",
                "timeout": "5",
                "replicas": "",
                "lease_ttl": "",
            },
        )
        self._bare = bare
        self.prefix = options["prefix"]
        try:
            self._ttl_ms = max(1, int(float(options["lock_ttl"]) * 1000))
            self._timeout = float(options["timeout"])
        except ValueError:
            raise StoreURLError(f"{self.url}: lock_ttl and timeout must be seconds") from None
        self._rows = {kind: f"{self.prefix}rows:{kind}" for kind in KINDS}
        self._meta = f"{self.prefix}meta"
        self._quarantine = f"{self.prefix}quarantine"
        self._lock = f"{self.prefix}lock"
        self.changes_channel = f"{self.prefix}changed"
        """The pub/sub channel every write publishes on (see `storage.notify`)."""
        self._client: Redis | None = None
        self._owner_value: str | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._secrets = url_secrets(url)

    # --- lifecycle --------------------------------------------------------------

    async def __aenter__(self) -> Self:
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # No retries inside redis-py: the manager owns retrying, with its own backoff.
        self._client = owned_client(
            self._bare,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            retry=Retry(NoBackoff(), 0),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop_renewing()
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if self._owner_value is not None:
                with contextlib.suppress(Exception):
                    await client.eval(_RELEASE, 1, self._lock, self._owner_value)
                self._owner_value = None
        finally:
            await client.aclose()  # every socket, even when cancelled meanwhile (redis_sockets)

    def _redis(self) -> Redis:
        if self._client is None:
            raise StoreError(f"{self.url}: the store is not open (use `async with`)")
        return self._client

    def _error(self, exc: BaseException) -> StoreUnavailableError:
        reason = scrub(str(exc), self._secrets)
        return StoreUnavailableError(f"redis {self.url}: {type(exc).__name__}: {reason}")

    # --- lock -------------------------------------------------------------------

    async def acquire_lock(self, owner: LockOwner) -> LockHandle:
        """Take the lease (see `StateStore.acquire_lock`)."""
        from redis.exceptions import RedisError

        value = json.dumps(owner.to_dict(), sort_keys=True)
        try:
            taken = await self._redis().set(self._lock, value, nx=True, px=self._ttl_ms)
            if not taken and await self._clear_dead_lease():
                taken = await self._redis().set(self._lock, value, nx=True, px=self._ttl_ms)
            if not taken:
                raise StoreLockedError(self.url, await self.lock_owner())
        except RedisError as exc:
            raise self._error(exc) from None
        self._owner_value = value
        self._renewer = asyncio.create_task(self._renew(), name="redis-lease")
        return LockHandle(self.url, owner)

    async def _clear_dead_lease(self) -> bool:
        """Delete a lease whose holder was a process of this host that no longer exists.

        A daemon restarted right after a crash would otherwise wait out the TTL. Only a holder
        provably gone is cleared (same host name, no such pid); anything else waits.
        """
        raw = await self._redis().get(self._lock)
        if raw is None:
            return True
        try:
            owner = LockOwner.from_dict(json.loads(raw))
        except ValueError:
            return False
        if owner is None or owner.host != socket.gethostname():
            return False
        try:
            os.kill(owner.pid, 0)
        except ProcessLookupError:
            deleted = await self._redis().eval(_RELEASE, 1, self._lock, _text(raw))
            return bool(deleted)
        except PermissionError:
            return False  # alive, another user's
        return False

    async def _renew(self) -> None:
        while self._owner_value is not None:
            await asyncio.sleep(self._ttl_ms / 3000.0)
            value = self._owner_value
            if value is None or self._client is None:
                return
            # A failed renewal is not fatal here (every write checks the lease itself), and
            # this task must never die of one: it would stop renewing a healthy lease.
            with contextlib.suppress(Exception):
                await self._client.eval(_RENEW, 1, self._lock, value, self._ttl_ms)

    async def _stop_renewing(self) -> None:
        task, self._renewer = self._renewer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def release_lock(self, handle: LockHandle) -> None:
        """Delete the lease if it is still ours."""
        from redis.exceptions import RedisError

        await self._stop_renewing()
        value, self._owner_value = self._owner_value, None
        if value is None:
            return
        try:
            await self._redis().eval(_RELEASE, 1, self._lock, value)
        except RedisError as exc:
            raise self._error(exc) from None

    async def lock_owner(self) -> LockOwner | None:
        """The lease holder's owner record."""
        from redis.exceptions import RedisError

        try:
            raw = await self._redis().get(self._lock)
        except RedisError as exc:
            raise self._error(exc) from None
        if raw is None:
            return None
        try:
            return LockOwner.from_dict(json.loads(raw))
        except ValueError:
            return None

    async def ping(self) -> None:
        """PING the server."""
        from redis.exceptions import RedisError

        try:
            await self._redis().ping()
        except RedisError as exc:
            raise self._error(exc) from None

    # --- load -------------------------------------------------------------------

    async def load(self, *, repair: bool) -> LoadResult:
        """Read meta and every row hash in one MULTI (see `StateStore.load`)."""
        from redis.exceptions import RedisError

        try:
            async with self._redis().pipeline(transaction=True) as pipe:
                pipe.hgetall(self._meta)
                for kind in KINDS:
                    pipe.hgetall(self._rows[kind])
                meta_raw, *hashes = await pipe.execute()
        except RedisError as exc:
            raise self._error(exc) from None
        meta = None
        if meta_raw:
            meta = (_text(meta_raw.get(b"data", b"")), _text(meta_raw.get(b"checksum", b"")))
        rows: list[tuple[str, str, str, str]] = []
        raw_rows: dict[tuple[str, str], bytes] = {}
        for kind, fields in zip(KINDS, hashes, strict=True):
            for field, value in fields.items():
                key = _text(field)
                checksum, _, data = _text(value).partition("\n")
                rows.append((kind, key, data, checksum))
                raw_rows[(kind, key)] = value
        decoded = decode_store(meta, rows)
        moved_to = f"redis hash {self._quarantine}" if repair else None
        result = load_result(decoded, row_count=len(rows), moved_to=moved_to)
        if repair and (decoded.whole_reason is not None or decoded.bad_rows):
            await self._set_aside(decoded.whole_reason, decoded.bad_rows, meta_raw, raw_rows)
        return result

    async def _set_aside(
        self,
        whole_reason: str | None,
        bad_rows: list[tuple[str, str, str]],
        meta_raw: dict[bytes, bytes],
        raw_rows: dict[tuple[str, str], bytes],
    ) -> None:
        from redis.exceptions import RedisError

        now = time.time()
        entries: dict[str, str] = {}
        if whole_reason is not None:
            targets = [(kind, key, whole_reason) for kind, key in raw_rows]
            entries[f"{now:.6f}|meta|meta"] = json.dumps(
                {
                    "kind": "meta",
                    "reason": whole_reason,
                    "set_aside_at": now,
                    "raw": {_text(k): _text(v) for k, v in meta_raw.items()},
                }
            )
        else:
            targets = bad_rows
        for kind, key, reason in targets:
            raw = raw_rows.get((kind, key), b"")
            entries[f"{now:.6f}|{kind}|{key}"] = json.dumps(
                {"kind": kind, "key": key, "reason": reason, "set_aside_at": now, "raw": _text(raw)}
            )
        try:
            async with self._redis().pipeline(transaction=True) as pipe:
                for chunk in _chunks(list(entries.items())):
                    pipe.hset(self._quarantine, mapping=dict(chunk))
                if whole_reason is not None:
                    pipe.delete(self._meta, *self._rows.values())
                else:
                    for kind, key, _ in bad_rows:
                        pipe.hdel(self._rows[kind], key)
                await pipe.execute()
        except RedisError as exc:
            raise self._error(exc) from None

    # --- write ------------------------------------------------------------------

    async def write(self, batch: WriteBatch) -> None:
        """WATCH the lease, check it, then MULTI the row changes (see `StateStore.write`)."""
        from redis.exceptions import RedisError, WatchError

        for _ in range(5):
            try:
                await self._write_once(batch)
            except WatchError:
                continue  # the lease was renewed between WATCH and EXEC: harmless, go again
            except RedisError as exc:
                raise self._error(exc) from None
            return
        raise StoreUnavailableError(f"redis {self.url}: the lease kept changing during writes")

    async def _write_once(self, batch: WriteBatch) -> None:
        mine = self._owner_value
        if mine is None:
            raise LockLostError(f"redis {self.url}: the writer lease is not held")
        async with self._redis().pipeline(transaction=True) as pipe:
            await pipe.watch(self._lock, self._meta)
            current = await pipe.get(self._lock)
            if current is None:
                await pipe.unwatch()  # type: ignore[no-untyped-call]  # unannotated in redis-py
                if not await self._redis().set(self._lock, mine, nx=True, px=self._ttl_ms):
                    raise LockLostError(f"state store {self.url}: another writer took the lease")
                raise StoreResetError(
                    f"redis {self.url}: the writer lease had vanished (server restarted "
                    "without persistence, or the lease expired); rewriting in full"
                )
            if _text(current) != mine:
                self._owner_value = None
                owner = LockOwner.from_dict(json.loads(current))
                raise LockLostError(str(StoreLockedError(self.url, owner)))
            if not batch.replace:  # Redis may have restarted from an older RDB snapshot
                stored = await pipe.hget(self._meta, "data")
                check_follows(None if stored is None else _text(stored), batch, f"redis {self.url}")
            pipe.multi()  # type: ignore[no-untyped-call]  # unannotated in redis-py
            self._queue(pipe, batch)
            await pipe.execute()

    def _queue(self, pipe: Any, batch: WriteBatch) -> None:
        if batch.replace:
            pipe.delete(*self._rows.values())
        upserts: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
        deletes: dict[str, list[str]] = {kind: [] for kind in KINDS}
        for row in batch.rows:
            if row.data is None:
                deletes[row.kind].append(row.key)
            else:
                upserts[row.kind][row.key] = f"{row.checksum}\n{row.data}"
        for kind in KINDS:
            if deletes[kind]:
                pipe.hdel(self._rows[kind], *deletes[kind])
            for chunk in _chunks(list(upserts[kind].items())):
                pipe.hset(self._rows[kind], mapping=dict(chunk))
        pipe.hset(self._meta, mapping={"data": batch.meta_data, "checksum": batch.meta_checksum})
        pipe.pexpire(self._lock, self._ttl_ms)
        pipe.publish(self.changes_channel, "")


def _chunks(items: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _text(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    return raw.decode("utf-8", "backslashreplace")
