"""Quorum across sites: a provider goes down only when K sites (vantages) agree.

Each site (`daemon.vantage`) probes every provider from its own network and keeps its own view
of each one (`Quorum.sites`, the same rule as the shared state: score, hysteresis). Its view is
its *vote*: down or up. One replica, the provider's writer, keeps the shared state; its site's
probe results go through `observe` as always, and a result that would take the provider down is
held back until enough sites vote down (`quorum_ruling`).

The rule, decided here and nowhere else:

* a vote counts while it is fresh: every vote carries the time until which its site promises
  the next one (its next probe, plus a margin), so a site that stopped voting stops counting;
* the sites in play ("live") are those with a live replica, those with a fresh vote, and the
  writer's own;
* K is capped by the live sites: with fewer than K sites alive, all of the live ones must agree
  (a lone surviving site can take a provider down; a site that is alive but has not voted yet
  still counts, and holds the transition until it votes);
* the writer's own site counts as one down vote when it asks (its result would take the
  provider down);
* recovery is not voted on: the writer's site brings a provider back up by the usual rule.

Pure: no I/O, no clock; the daemon passes the votes in as data.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from modelmesh_healthd.state.outcome import Outcome
from modelmesh_healthd.state.policy import DEFAULT_POLICY, HealthPolicy
from modelmesh_healthd.state.provider import ProviderState, plan_probe

__all__ = ["Quorum", "QuorumRuling", "Vote", "quorum_ruling"]


@dataclass(frozen=True, slots=True)
class Vote:
    """One site's view of one provider.

    Attributes:
        vantage: The site.
        down: The site sees the provider down.
        since: Unix time (the voter's clock) its view last turned.
        at: Unix time (the voter's clock) of the probe behind it.
        until: Unix time (the reader's clock) until which the vote counts.
        outcome: The outcome of that probe.
    """

    vantage: str
    down: bool
    since: float
    at: float
    until: float = math.inf
    outcome: str | None = None

    def fresh(self, now: float) -> bool:
        """Whether the vote still counts at `now`."""
        return now <= self.until


@dataclass(frozen=True, slots=True)
class QuorumRuling:
    """The quorum's ruling on a down transition seen from one site.

    Attributes:
        hold: Do not apply it: fewer than `needed` sites agree.
        agreeing: The sites with a fresh down vote, the asking site included (sorted).
        needed: K, capped by the live sites.
        live: The sites in play (sorted).
    """

    hold: bool
    agreeing: tuple[str, ...]
    needed: int
    live: tuple[str, ...]


def quorum_ruling(
    votes: Mapping[str, Vote],
    *,
    own: str,
    quorum: int,
    live: Collection[str],
    now: float,
) -> QuorumRuling:
    """Whether a down transition seen from site `own` must wait for other sites.

    Args:
        votes: The other sites' votes on the provider, by site (`own`'s is ignored: its current
            result is the one asking).
        own: The asking site (it counts as one down vote).
        quorum: K, the sites that must agree (at least 1).
        live: Sites with a live replica now.
        now: Unix time.

    Returns:
        The ruling.
    """
    fresh = {site: vote for site, vote in votes.items() if site != own and vote.fresh(now)}
    sites = {own, *live, *fresh}
    needed = max(1, min(quorum, len(sites)))
    agreeing = {own} | {site for site, vote in fresh.items() if vote.down}
    return QuorumRuling(
        hold=len(agreeing) < needed,
        agreeing=tuple(sorted(agreeing)),
        needed=needed,
        live=tuple(sorted(sites)),
    )


@dataclass(slots=True)
class Quorum:
    """A site's part in the quorum: its own views, the other sites' votes, who is pending.

    Attributes:
        vantage: This site's name.
        quorum: K (1: votes are kept and shown, nothing is held).
        votes: Provider -> site -> vote, as last read from the store (other sites').
        live: Sites with a live replica, as last read from the store.
        sites: Provider -> this site's own view of it (the rule of the shared state, applied
            to this site's probes only).
        since: Provider -> when this site's view of it last turned.
        pending: Providers whose down transition waits for the quorum (announced once).
    """

    vantage: str
    quorum: int = 1
    votes: dict[str, dict[str, Vote]] = field(default_factory=dict)
    live: frozenset[str] = frozenset()
    sites: dict[str, ProviderState] = field(default_factory=dict)
    since: dict[str, float] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)

    def seed(self, provider: str, state: ProviderState) -> None:
        """Start this site's view of `provider` from a copy of `state` (the shared state, when
        this site's voting on it begins), unless it has one."""
        if provider not in self.sites:
            self.sites[provider] = ProviderState.from_dict(state.to_dict())

    def cast(
        self, provider: str, outcome: Outcome, now: float, policy: HealthPolicy = DEFAULT_POLICY
    ) -> Vote:
        """Apply one of this site's results to its view of `provider`; return its vote.

        Args:
            provider: The probed provider.
            outcome: The probe's outcome.
            now: Unix time of the probe.
            policy: The rule (the shared state's).
        """
        view = self.sites.get(provider)
        if view is None:
            view = self.sites[provider] = ProviderState()
        was_down = not view.is_healthy(policy)
        plan_probe(view, False, outcome, now, policy).apply(view, now, outcome, None)
        down = not view.is_healthy(policy)
        if down != was_down or provider not in self.since:
            self.since[provider] = now
        return Vote(self.vantage, down, self.since[provider], now, outcome=outcome.value)

    def ruling(self, provider: str, now: float) -> QuorumRuling:
        """The ruling on a down transition of `provider` seen from this site."""
        return quorum_ruling(
            self.votes.get(provider, {}),
            own=self.vantage,
            quorum=self.quorum,
            live=self.live,
            now=now,
        )

    def forget(self, provider: str) -> None:
        """Drop this site's memory of a provider it no longer votes on."""
        self.sites.pop(provider, None)
        self.since.pop(provider, None)
        self.pending.discard(provider)
