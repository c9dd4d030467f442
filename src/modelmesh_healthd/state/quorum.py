"""Quorum across sites: a provider's shared state follows K sites' votes.

Each site (`daemon.vantage`) probes every provider from its own network and keeps its own view
of each one (`Quorum.sites`, the same rule as the shared state: score, hysteresis). Its view is
its *vote*: down or up. One replica, the provider's writer, keeps the shared state; its own
site's view is one vote like any other, and the shared state follows the tally (`quorum_tally`),
after each of the writer's probes and after each read of the votes (`state.step`).

The rule, decided here and nowhere else:

* a vote counts while it is fresh: every vote carries the time until which its site promises
  the next one (its next probe, plus a margin), so a site that stopped voting stops counting;
  the writer's own view always counts;
* the sites in play ("live") are those with a live replica, those with a fresh vote, and the
  writer's own; a live site without a fresh vote is *silent*;
* K is capped by the live sites (`needed`): with fewer than K sites alive, all of the live ones
  must agree, and a lone surviving site decides alone;
* **down** when at least `needed` sites have a fresh down vote, whichever sites they are (the
  writer's own view is just one of them);
* **up again** when fewer than `needed` sites have a fresh down vote, counting the silent ones
  as down: silence changes nothing either way, so a site that is alive but has not voted yet
  (a restart) neither takes a provider down nor brings it back.

Pure: no I/O, no clock; the daemon passes the votes in as data.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from modelmesh_healthd.state.outcome import Outcome
from modelmesh_healthd.state.policy import DEFAULT_POLICY, HealthPolicy
from modelmesh_healthd.state.provider import ProviderState, plan_probe

__all__ = ["Quorum", "QuorumRuling", "Tally", "Vote", "quorum_ruling", "quorum_tally"]


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
class Tally:
    """The sites' votes on one provider at one moment.

    Attributes:
        down: Sites with a fresh down vote (sorted).
        up: Sites with a fresh up vote (sorted).
        silent: Live sites without a fresh vote (sorted).
        needed: K, capped by the live sites (at least 1).
    """

    down: tuple[str, ...]
    up: tuple[str, ...]
    silent: tuple[str, ...]
    needed: int

    @property
    def live(self) -> tuple[str, ...]:
        """The sites in play (sorted)."""
        return tuple(sorted({*self.down, *self.up, *self.silent}))

    @property
    def holds_down(self) -> bool:
        """Enough sites see the provider down to take it down."""
        return len(self.down) >= self.needed

    @property
    def holds_up(self) -> bool:
        """Too few sites see it down to keep it down, the silent ones counted as down."""
        return len(self.down) + len(self.silent) < self.needed

    def healthy(self, now_healthy: bool) -> bool:
        """The shared state the votes call for, given what it is now (silence keeps it)."""
        if now_healthy:
            return not self.holds_down
        return self.holds_up


def quorum_tally(
    votes: Mapping[str, Vote],
    *,
    own: Vote | None,
    quorum: int,
    live: Collection[str],
    now: float,
) -> Tally:
    """Count the sites' votes on a provider.

    Args:
        votes: The sites' stored votes on the provider, by site (the site of `own`, when given,
            is counted from `own` instead: the writer's current view).
        own: The writer's own site's current vote (always fresh); None: it has none.
        quorum: K, the sites that must agree (at least 1).
        live: Sites with a live replica now.
        now: Unix time.

    Returns:
        The tally.
    """
    fresh = {site: v for site, v in votes.items() if v.fresh(now)}
    if own is not None:
        fresh[own.vantage] = own
    sites = {*live, *fresh}
    down = sorted(site for site, v in fresh.items() if v.down)
    up = sorted(site for site, v in fresh.items() if not v.down)
    silent = sorted(sites - set(fresh))
    return Tally(tuple(down), tuple(up), tuple(silent), max(1, min(quorum, len(sites))))


@dataclass(frozen=True, slots=True)
class QuorumRuling:
    """The quorum's ruling on a down transition seen from one site (that site voting down).

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
    asking = Vote(own, True, now, now)
    tally = quorum_tally(votes, own=asking, quorum=quorum, live=live, now=now)
    return QuorumRuling(
        hold=not tally.holds_down,
        agreeing=tally.down,
        needed=tally.needed,
        live=tally.live,
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
        pending: Providers this site sees down while the quorum keeps them up (announced once).
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

    def own_vote(
        self, provider: str, now: float, policy: HealthPolicy = DEFAULT_POLICY
    ) -> Vote | None:
        """This site's current vote on `provider`, from its own view (None: it has none yet)."""
        view = self.sites.get(provider)
        if view is None:
            return None
        since = self.since.get(provider, now)
        down = not view.is_healthy(policy)
        return Vote(self.vantage, down, since, now, outcome=view.last_outcome)

    def tally(self, provider: str, now: float, policy: HealthPolicy = DEFAULT_POLICY) -> Tally:
        """Every site's vote on `provider`, this site's from its own view when it has one (else
        its stored vote, as any other site's)."""
        return quorum_tally(
            self.votes.get(provider, {}),
            own=self.own_vote(provider, now, policy),
            quorum=self.quorum,
            live={*self.live, self.vantage},  # this site is alive: it is running this
            now=now,
        )

    def forget(self, provider: str) -> None:
        """Drop this site's memory of a provider it no longer votes on."""
        self.sites.pop(provider, None)
        self.since.pop(provider, None)
        self.pending.discard(provider)
