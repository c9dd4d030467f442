"""Coordination on Redis: Lua scripts over a members sorted set and a leases hash.

Keys (under the store's prefix): `members` (sorted set: member -> expiry, ms of the server's
clock), `leases` (hash: shard -> `owner<TAB>token<TAB>expiry_ms`), `fence` (the token counter,
INCR), `epoch` (the envelope's counter), `votes` (hash: `site<TAB>provider` ->
`written_ms<TAB>vote`, for a quorum across sites). Each script runs atomically on the
server, so a claim, a renewal and a fenced write never interleave. Scripts read the server's
clock (`TIME`); Redis 7 replicates their effects, not the scripts, so that is allowed.
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
from modelmesh_healthd.storage.row_encode import KINDS

if TYPE_CHECKING:
    from modelmesh_healthd.storage.redis_store import RedisStore

__all__ = ["RedisCoordination"]

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function lease(raw)
    if not raw then return nil end
    local owner, token, exp = string.match(raw, '^(.-)\\t(%d+)\\t(%d+)$')
    if not owner then return nil end
    return owner, tonumber(token), tonumber(exp)
end
local function fmt(n) return string.format('%d', n) end
"""

_HEARTBEAT = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #all, 2 do
    out[#out + 1] = all[i]
    out[#out + 1] = fmt(tonumber(all[i + 1]) - now)
end
return out
"""
)

_LEAVE = (
    _NOW
    + """
redis.call('ZREM', KEYS[1], ARGV[1])
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
    local owner = lease(all[i + 1])
    if owner == ARGV[1] then redis.call('HDEL', KEYS[2], all[i]) end
end
return 1
"""
)

_CLAIM = (
    _NOW
    + """
local me, ttl = ARGV[1], tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV do
    local shard = ARGV[i]
    local owner, token, exp = lease(redis.call('HGET', KEYS[1], shard))
    if owner == me and exp > now then
        redis.call('HSET', KEYS[1], shard, me .. '\\t' .. fmt(token) .. '\\t' .. fmt(now + ttl))
        out[#out + 1] = shard; out[#out + 1] = fmt(token)
    elseif owner == nil or exp <= now then
        local new = redis.call('INCR', KEYS[2])
        redis.call('HSET', KEYS[1], shard, me .. '\\t' .. fmt(new) .. '\\t' .. fmt(now + ttl))
        out[#out + 1] = shard; out[#out + 1] = fmt(new)
    else
        out[#out + 1] = shard; out[#out + 1] = fmt(-(exp - now) - 1)
    end
end
return out
"""
)

_RENEW = (
    _NOW
    + """
local me, ttl = ARGV[1], tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV, 2 do
    local owner, token, exp = lease(redis.call('HGET', KEYS[1], ARGV[i]))
    if owner == me and token == tonumber(ARGV[i + 1]) and exp > now then
        redis.call('HSET', KEYS[1], ARGV[i], me .. '\\t' .. fmt(token) .. '\\t' .. fmt(now + ttl))
        out[#out + 1] = ARGV[i]
    end
end
return out
"""
)

_RELEASE = (
    _NOW
    + """
for i = 2, #ARGV, 2 do
    local owner, token = lease(redis.call('HGET', KEYS[1], ARGV[i]))
    if owner == ARGV[1] and token == tonumber(ARGV[i + 1]) then
        redis.call('HDEL', KEYS[1], ARGV[i])
    end
end
return 1
"""
)

_OWNERS = (
    _NOW
    + """
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
    local owner, token, exp = lease(all[i + 1])
    if owner and exp > now then out[#out + 1] = all[i]; out[#out + 1] = owner end
end
return out
"""
)

_NEXT_EPOCH = """
local floor = tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < floor then redis.call('SET', KEYS[1], string.format('%d', floor)) end
if ARGV[2] == '1' then return redis.call('INCR', KEYS[1]) end
return 0
"""

# KEYS: leases, meta, rows:<kind>... ; ARGV: me, nshards, (shard, token, nrows,
# (kind, key, value-or-empty, delete-flag) * nrows) * nshards, [meta data, checksum, epoch]
_WRITE = (
    _NOW
    + """
local me = ARGV[1]
local nshards = tonumber(ARGV[2])
local refused, accepted = {}, 0
local i = 3
for _ = 1, nshards do
    local shard, token, nrows = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
    i = i + 3
    local owner, held = lease(redis.call('HGET', KEYS[1], shard))
    local ok = owner == me and held == token
    if ok then accepted = accepted + 1 else refused[#refused + 1] = shard end
    for _ = 1, nrows do
        if ok then
            local hash = KEYS[2 + tonumber(ARGV[i])]
            if ARGV[i + 3] == '1' then
                redis.call('HDEL', hash, ARGV[i + 1])
            else
                redis.call('HSET', hash, ARGV[i + 1], ARGV[i + 2])
            end
        end
        i = i + 4
    end
end
if accepted > 0 and ARGV[i] ~= nil and ARGV[i] ~= '' then
    local stored = tonumber(redis.call('HGET', KEYS[2], 'epoch') or '-1')
    if tonumber(ARGV[i + 2]) > stored then
        redis.call('HSET', KEYS[2], 'data', ARGV[i], 'checksum', ARGV[i + 1], 'epoch', ARGV[i + 2])
    end
end
return refused
"""
)


# KEYS: leases, votes ; ARGV: me, (shard, token, field, vote) * n
_WRITE_VOTES = (
    _NOW
    + """
local refused = {}
for i = 2, #ARGV, 4 do
    local owner, held = lease(redis.call('HGET', KEYS[1], ARGV[i]))
    if owner == ARGV[1] and held == tonumber(ARGV[i + 1]) then
        redis.call('HSET', KEYS[2], ARGV[i + 2], fmt(now) .. '\t' .. ARGV[i + 3])
    else
        refused[#refused + 1] = ARGV[i]
    end
end
return refused
"""
)

_VOTES = (
    _NOW
    + """
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
    local at, vote = string.match(all[i + 1], '^(%d+)\t(.*)$')
    if at then
        out[#out + 1] = all[i]; out[#out + 1] = fmt(now - tonumber(at)); out[#out + 1] = vote
    end
end
return out
"""
)


# KEYS: votes ; ARGV: (field, max age ms) * n
_PRUNE_VOTES = (
    _NOW
    + """
for i = 1, #ARGV, 2 do
    local at = string.match(redis.call('HGET', KEYS[1], ARGV[i]) or '', '^(%d+)\t')
    if at and now - tonumber(at) > tonumber(ARGV[i + 1]) then
        redis.call('HDEL', KEYS[1], ARGV[i])
    end
end
return 0
"""
)


class RedisCoordination:
    """`Coordination` over an open RedisStore's connection and key prefix."""

    def __init__(self, store: RedisStore) -> None:
        """Args:
        store: The store (opened with `async with` before any call).
        """
        self._store = store
        p = store.prefix
        self._members, self._leases = f"{p}members", f"{p}leases"
        self._fence, self._epoch, self._meta = f"{p}fence", f"{p}epoch", f"{p}meta"
        self._votes = f"{p}votes"
        self._rows = [f"{p}rows:{kind}" for kind in KINDS]
        self._kind_index = {kind: i + 1 for i, kind in enumerate(KINDS)}

    async def _run(self, script: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        from redis.exceptions import RedisError

        client = self._store._redis()
        try:
            return await client.eval(script, len(keys), *keys, *args)
        except RedisError as exc:
            raise self._store._error(exc) from None

    async def prepare(self, epoch_floor: int) -> None:
        """Raise the epoch counter to the stored epoch (Redis needs no tables)."""
        await self._run(_NEXT_EPOCH, [self._epoch], [epoch_floor, "0"])

    async def heartbeat(self, member: str, ttl: float) -> Heartbeat:
        """ZADD our expiry, drop the expired, list the rest."""
        raw = await self._run(_HEARTBEAT, [self._members], [member, _ms(ttl)])
        pairs = _pairs(raw)
        return Heartbeat({m: int(v) / 1000.0 for m, v in pairs})

    async def leave(self, member: str) -> None:
        """Drop our member entry and our leases."""
        await self._run(_LEAVE, [self._members, self._leases], [member])

    async def claim(self, member: str, shards: Sequence[str], ttl: float) -> Claim:
        """Take free or expired leases, keep ours (see `Coordination.claim`)."""
        if not shards:
            return Claim()
        raw = await self._run(_CLAIM, [self._leases, self._fence], [member, _ms(ttl), *shards])
        granted: dict[str, int] = {}
        waiting: dict[str, float] = {}
        for shard, value in _pairs(raw):
            number = int(value)
            if number > 0:
                granted[shard] = number
            else:
                waiting[shard] = (-number - 1) / 1000.0
        return Claim(granted, waiting)

    async def renew(self, member: str, tokens: Mapping[str, int], ttl: float) -> set[str]:
        """Extend the leases still held under these tokens."""
        if not tokens:
            return set()
        args: list[Any] = [member, _ms(ttl)]
        for shard, token in tokens.items():
            args += [shard, token]
        raw = await self._run(_RENEW, [self._leases], args)
        return {_text(s) for s in raw}

    async def release(self, member: str, tokens: Mapping[str, int]) -> None:
        """Delete the leases still held under these tokens."""
        if not tokens:
            return
        args: list[Any] = [member]
        for shard, token in tokens.items():
            args += [shard, token]
        await self._run(_RELEASE, [self._leases], args)

    async def owners(self) -> dict[str, str]:
        """Shard -> holder of an unexpired lease."""
        return dict(_pairs(await self._run(_OWNERS, [self._leases], [])))

    async def next_epoch(self) -> int:
        """INCR the epoch counter."""
        return int(await self._run(_NEXT_EPOCH, [self._epoch], [0, "1"]))

    async def fenced_write(
        self, member: str, shards: Sequence[ShardRows], meta: tuple[str, str, int] | None
    ) -> set[str]:
        """One Lua script: check each shard's token, write its rows if it holds."""
        args: list[Any] = [member, len(shards)]
        for part in shards:
            args += [part.shard, part.token, len(part.rows)]
            for row in part.rows:
                value = "" if row.data is None else f"{row.checksum}\n{row.data}"
                gone = "1" if row.data is None else "0"
                args += [self._kind_index[row.kind], row.key, value, gone]
        if meta is not None:
            args += [meta[0], meta[1], meta[2]]
        raw = await self._run(_WRITE, [self._leases, self._meta, *self._rows], args)
        return {_text(s) for s in raw}

    async def write_votes(self, member: str, votes: Sequence[VoteWrite]) -> set[str]:
        """One Lua script: each vote is written only under its shard's current token."""
        if not votes:
            return set()
        args: list[Any] = [member]
        for vote in votes:
            args += [vote.shard, vote.token, f"{vote.vantage}\t{vote.provider}", vote.data]
        raw = await self._run(_WRITE_VOTES, [self._leases, self._votes], args)
        return {_text(s) for s in raw}

    async def votes(self) -> list[StoredVote]:
        """Every vote with its age by the server's clock."""
        raw = [_text(x) for x in await self._run(_VOTES, [self._votes], [])]
        out = []
        for key, age, data in zip(raw[::3], raw[1::3], raw[2::3], strict=True):
            vantage, _, provider = key.partition("\t")
            out.append(StoredVote(provider, vantage, data, max(0, int(age)) / 1000.0))
        return out

    async def prune_votes(self, stale: Sequence[tuple[str, str, float]]) -> None:
        """One Lua script: delete each vote still older than its max age."""
        if not stale:
            return
        args: list[Any] = []
        for vantage, provider, max_age in stale:
            args += [f"{vantage}\t{provider}", _ms(max_age)]
        await self._run(_PRUNE_VOTES, [self._votes], args)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _text(raw: bytes | str) -> str:
    return raw if isinstance(raw, str) else raw.decode("utf-8", "backslashreplace")


def _pairs(raw: list[Any]) -> list[tuple[str, str]]:
    items = [_text(x) for x in raw]
    return list(zip(items[::2], items[1::2], strict=True))
