"""A quorum site's votes among replicas: cast after each probe, read every round, pruned.

With `daemon.vantage` set, the prober of a provider in a site writes that site's vote after
every probe, under the lease `vote:<site>:<provider>` (fenced like the rows). Every round, each
replica reads every site's votes into the core's `Quorum` (the writer's step decides with them),
with the live sites; votes nobody renews (a site that left, a provider removed) are pruned.
Votes travel as JSON data; a vote this version cannot read counts as none.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Protocol

import structlog

from modelmesh_healthd.state import Quorum, Vote
from modelmesh_healthd.storage.coordination import (
    VOTE_KEEP,
    Coordination,
    StoredVote,
    VoteWrite,
    vote_shard,
    votes_document,
)
from modelmesh_healthd.storage.errors import StoreError
from modelmesh_healthd.storage.fenced import FencedStore
from modelmesh_healthd.storage.log import LOGGER_NAME

__all__ = ["SiteVotes", "vantage_of"]

_log = structlog.get_logger(LOGGER_NAME)


def vantage_of(member: str) -> str | None:
    """The site of a replica's member id (`host:pid:instance#tag@site`); None without one."""
    site = member.rpartition("#")[2].partition("@")[2]
    return site or None


class _Counts(Protocol):
    votes: int
    quorum_pending: int


class SiteVotes:
    """One replica's part in its site's votes (a replica with a `daemon.vantage`).

    Args:
        coordination: The shared store's coordination (where votes are kept).
        store: The replica's fenced store: its leases, and its count of fenced writes.
        member: This replica's member id.
        vantage: This replica's site.
        ttl: The lease TTL in seconds (a vote counts at least this long).
        quorum: The core's quorum now (None: no quorum, nothing is read into it).
        clock: Unix time.
        counts: The replica's counters (votes written, providers pending the quorum).
        on_fenced: Called with the vote shards the store refused (their leases are gone).
    """

    def __init__(
        self,
        coordination: Coordination,
        store: FencedStore,
        member: str,
        vantage: str,
        ttl: float,
        *,
        quorum: Callable[[], Quorum | None],
        clock: Callable[[], float],
        counts: _Counts,
        on_fenced: Callable[[set[str]], None],
    ) -> None:
        self._coordination, self._store = coordination, store
        self._member, self._vantage, self._ttl = member, vantage, ttl
        self._quorum, self._clock, self._counts = quorum, clock, counts
        self._on_fenced = on_fenced

    async def cast(self, provider: str, vote: Vote, fresh_for: float) -> None:
        """Write this site's vote on `provider` under its vote lease (fenced like the rows).

        Args:
            provider: The provider voted on.
            vote: This site's vote after its latest probe.
            fresh_for: Seconds the vote counts for (this site's next vote is due before then).
        """
        token = self._store.leases.token(vote_shard(provider, self._vantage))
        if token is None:
            return  # the lease went while the probe ran: the new prober votes
        data = json.dumps(
            {
                "down": vote.down,
                "since": vote.since,
                "at": vote.at,
                "fresh_for": round(fresh_for, 3),
                "outcome": vote.outcome,
            }
        )
        quorum = self._quorum()
        self._counts.quorum_pending = 0 if quorum is None else len(quorum.pending)
        try:
            refused = await self._coordination.write_votes(
                self._member, [VoteWrite(token, provider, self._vantage, data)]
            )
        except StoreError as exc:
            _log.warning(
                "replica.vote_failed", member=self._member, provider=provider, reason=str(exc)
            )
            return
        if refused:
            self._store.fenced_writes += len(refused)
            _log.warning(
                "store.write_fenced",
                store=self._store.url,
                member=self._member,
                shards=sorted(refused),
                count=len(refused),
            )
            self._on_fenced(refused)
            return
        self._counts.votes += 1

    async def read(self, members: tuple[str, ...]) -> None:
        """Every site's votes and the live sites, into the core's quorum (the writer's step
        decides with them); votes kept past their time are pruned from the store."""
        quorum = self._quorum()
        if quorum is None:
            return
        stored = await self._coordination.votes()
        now = self._clock()
        votes: dict[str, dict[str, Vote]] = {}
        stale: list[tuple[str, str, float]] = []
        for found in stored:
            vote, lifetime = self._parse(found, now)
            keep = VOTE_KEEP * max(lifetime, self._ttl)
            if found.age > keep:
                stale.append((found.vantage, found.provider, keep))
            elif vote is not None:
                votes.setdefault(found.provider, {})[found.vantage] = vote
        if stale:
            # A site that left, a provider removed: their votes would be shown (stale) for ever.
            await self._coordination.prune_votes(stale)
        quorum.votes = votes
        quorum.live = frozenset(site for m in members if (site := vantage_of(m)) is not None)

    def _parse(self, found: StoredVote, now: float) -> tuple[Vote | None, float]:
        """The stored vote and the seconds it counts for (None: unreadable by this version)."""
        try:
            data = json.loads(found.data)
            at = now - found.age  # the store's clock: no trust in another site's clock
            lifetime = float(data["fresh_for"])
            vote = Vote(
                found.vantage,
                bool(data["down"]),
                float(data["since"]),
                at,
                at + lifetime,
                None if data.get("outcome") is None else str(data["outcome"]),
            )
        except (ValueError, KeyError, TypeError):
            return None, self._ttl  # a vote this version cannot read counts as none
        return vote, lifetime

    async def document(self) -> dict[str, dict[str, dict[str, object]]]:
        """Provider -> site -> its vote (down, since, outcome, age in seconds, fresh)."""
        return votes_document(await self._coordination.votes())
