"""Replicas sharing one store: membership, leases and fenced writes, kept by the store itself.

Several daemons with one configuration share a Redis or PostgreSQL store. The store is the only
coordination engine: no consensus protocol of our own, no extra service.

* **Membership**: each replica heartbeats a member entry with a TTL (a sorted set scored by
  expiry in Redis, a row with `expires_at` in PostgreSQL); the live members are the unexpired
  entries. Expiry times are the store server's clock, so replicas' clocks never disagree.
* **Shards**: every provider (`provider:<id>`) and every pool (`pool:<id>`) is a shard, assigned
  to a live member by rendezvous hashing (`storage.rendezvous`).
* **Leases**: a member writes a shard only while it holds the shard's lease (a row/field naming
  owner, fencing token and expiry). Claiming a free or expired lease takes a new token from the
  store's sequence (Redis INCR, a PostgreSQL sequence), so tokens only grow.
* **Fencing**: every row write names the token it was written under, and the store refuses,
  in the same atomic step as the write (a Lua script; a transaction holding the lease rows), the
  rows of any shard whose lease no longer carries that token. A paused or partitioned replica
  that wakes up after its lease was taken over cannot overwrite its successor, whatever it
  believes about its own lease.
* **Votes** (quorum across sites, `daemon.vantage`): each site's prober of a provider holds the
  shard `vote:<site>:<provider>` and writes that site's vote under its token, fenced the same
  way; the store stamps each vote with its own clock, so a reader learns a vote's age without
  trusting another site's clock. A vote older than `VOTE_KEEP` times its own lifetime (a site
  that left, a provider removed) is deleted by the next replica that reads the votes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from modelmesh_healthd.storage.base import Row

__all__ = [
    "POOL_SHARD",
    "PROVIDER_SHARD",
    "VOTE_KEEP",
    "VOTE_SHARD",
    "Claim",
    "Coordination",
    "Heartbeat",
    "ShardRows",
    "StoredVote",
    "VoteWrite",
    "pool_shard",
    "provider_shard",
    "shard_of_row",
    "vote_shard",
    "votes_document",
]

PROVIDER_SHARD = "provider:"
POOL_SHARD = "pool:"
VOTE_SHARD = "vote:"
VOTE_KEEP = 10.0
"""A vote older than this many times its lifetime (`fresh_for`) is deleted from the store."""


def provider_shard(provider: str) -> str:
    """The shard of a provider (its provider row, which holds its models)."""
    return PROVIDER_SHARD + provider


def pool_shard(pool: str) -> str:
    """The shard of a pool (its `pool` and `members` rows)."""
    return POOL_SHARD + pool


def vote_shard(provider: str, vantage: str) -> str:
    """The shard of one site's vote on a provider (a site name has no `:`)."""
    return f"{VOTE_SHARD}{vantage}:{provider}"


def shard_of_row(row: Row) -> str:
    """Which shard a stored row belongs to."""
    return provider_shard(row.key) if row.kind == "provider" else pool_shard(row.key)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The live members after one heartbeat.

    Attributes:
        members: Member id -> seconds until its entry expires (the caller's own included).
    """

    members: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Claim:
    """What a claim got.

    Attributes:
        granted: Shard -> fencing token, for every shard now held (new or kept).
        waiting: Shard -> seconds until its current holder's lease expires (held by another).
    """

    granted: Mapping[str, int] = field(default_factory=dict)
    waiting: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ShardRows:
    """Rows of one shard, written under its fencing token."""

    shard: str
    token: int
    rows: Sequence[Row]


@dataclass(frozen=True, slots=True)
class VoteWrite:
    """One site's vote on one provider, written under its vote shard's token.

    Attributes:
        token: The fencing token of `vote_shard(provider, vantage)`.
        provider: The provider voted on.
        vantage: The voting site.
        data: The vote, as JSON text.
    """

    token: int
    provider: str
    vantage: str
    data: str

    @property
    def shard(self) -> str:
        """The vote's shard."""
        return vote_shard(self.provider, self.vantage)


@dataclass(frozen=True, slots=True)
class StoredVote:
    """A vote as the store holds it.

    Attributes:
        provider: The provider voted on.
        vantage: The voting site.
        data: The vote, as JSON text.
        age: Seconds since it was written, by the store's clock.
    """

    provider: str
    vantage: str
    data: str
    age: float


def votes_document(stored: Iterable[StoredVote]) -> dict[str, dict[str, dict[str, object]]]:
    """Provider -> site -> its vote as shown (`/v1/state`, `status`): down, since, outcome,
    age in seconds by the store's clock, and whether it still counts (fresh). Votes this
    version cannot read are left out."""
    out: dict[str, dict[str, dict[str, object]]] = {}
    for found in stored:
        try:
            data = json.loads(found.data)
            fresh = found.age <= float(data["fresh_for"])
        except (ValueError, KeyError, TypeError):
            continue
        out.setdefault(found.provider, {})[found.vantage] = {
            "down": bool(data.get("down")),
            "since": data.get("since"),
            "outcome": data.get("outcome"),
            "age_s": round(found.age, 3),
            "fresh": fresh,
        }
    return out


@runtime_checkable
class Coordination(Protocol):
    """Membership, leases and fenced writes of one store (Redis or PostgreSQL).

    Every method raises `StoreUnavailableError` when the backend cannot be reached.
    """

    async def prepare(self, epoch_floor: int) -> None:
        """Create what the coordination needs (tables, sequences) and raise the store's epoch
        sequence to at least `epoch_floor` (the epoch of the state already stored)."""
        ...

    async def heartbeat(self, member: str, ttl: float) -> Heartbeat:
        """Renew `member`'s entry for `ttl` seconds, drop expired ones, list the live."""
        ...

    async def leave(self, member: str) -> None:
        """Remove `member`'s entry and every lease it holds (a clean stop hands over at once)."""
        ...

    async def claim(self, member: str, shards: Sequence[str], ttl: float) -> Claim:
        """Take (or keep) the leases of `shards` that are free, expired or already ours."""
        ...

    async def renew(self, member: str, tokens: Mapping[str, int], ttl: float) -> set[str]:
        """Extend the leases still held under exactly these tokens; return those shards."""
        ...

    async def release(self, member: str, tokens: Mapping[str, int]) -> None:
        """Give leases back (only those still held under these tokens)."""
        ...

    async def owners(self) -> dict[str, str]:
        """Shard -> member holding an unexpired lease on it (for `status`)."""
        ...

    async def next_epoch(self) -> int:
        """The next value of the store's write counter (the envelope's epoch)."""
        ...

    async def fenced_write(
        self, member: str, shards: Sequence[ShardRows], meta: tuple[str, str, int] | None
    ) -> set[str]:
        """Write each shard's rows only if its lease still holds `member` and the token.

        Args:
            member: The writer.
            shards: Rows by shard, each with the token it was claimed under.
            meta: (data, checksum, epoch) of the meta row, written when some shard was
                accepted and its epoch is newer than the stored one; None leaves it.

        Returns:
            The shards refused (their rows were not written); atomic with the accepted rows.
        """
        ...

    async def write_votes(self, member: str, votes: Sequence[VoteWrite]) -> set[str]:
        """Write each vote only if its shard's lease still holds `member` and its token.

        Returns:
            The vote shards refused (those votes were not written).
        """
        ...

    async def votes(self) -> list[StoredVote]:
        """Every stored vote, with its age by the store's clock."""
        ...

    async def prune_votes(self, stale: Sequence[tuple[str, str, float]]) -> None:
        """Delete the votes (site, provider, max age in seconds) still older than their max
        age by the store's clock; a vote written again since it was read is kept."""
        ...
