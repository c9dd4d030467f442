"""Rendezvous (highest random weight) hashing: which live replica owns which shard.

Every replica computes the same owner for a shard from the same member list, with no
coordination beyond that list. A member joining takes over only the shards it now wins (about
1/N of them), and a member leaving hands over only its own: nothing else moves, which is what
keeps a rebalance from re-probing the whole fleet.

Pure functions: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["assign", "owner_of", "weight"]


def weight(member: str, shard: str) -> int:
    """The member's 64-bit weight for the shard (a keyed BLAKE2b of both names).

    BLAKE2b rather than Python's `hash`: string hashes are salted per process, and every
    replica must compute the same weights.
    """
    digest = hashlib.blake2b(
        f"{member}\x00{shard}".encode(), digest_size=8, person=b"mmhd-hrw"
    ).digest()
    return int.from_bytes(digest, "big")


def owner_of(shard: str, members: Iterable[str]) -> str | None:
    """The member with the highest weight for `shard` (ties broken by name); None if none."""
    best: tuple[int, str] | None = None
    for member in members:
        candidate = (weight(member, shard), member)
        if best is None or candidate > best:
            best = candidate
    return None if best is None else best[1]


def assign(shards: Iterable[str], members: Iterable[str]) -> dict[str, str]:
    """Every shard's owner among `members` (empty when there are no members)."""
    pool = sorted(set(members))
    if not pool:
        return {}
    out: dict[str, str] = {}
    for shard in shards:
        owner = owner_of(shard, pool)
        assert owner is not None  # pool is not empty
        out[shard] = owner
    return out
