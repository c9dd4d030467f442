"""Replicas: several daemons share one Redis or PostgreSQL store and split the probing.

Asked for by the store URL: `?replicas=on` (and `lease_ttl=SECONDS`, default 10). Each replica
then runs a Coordinator beside its scheduler. Every `lease_ttl / 3` seconds (sooner when a
member or lease is about to expire) one round:

1. renews the leases it holds, then heartbeats its membership and reads the live members (in
   that order, so its leases never outlive its membership);
2. computes the shards it should own (rendezvous hashing over the live members);
3. releases leases it should no longer hold (a joining replica gets its share at once) and
   claims the missing ones (a free or expired lease only);
4. reads the whole store: providers owned by others replace the local copies, a provider just
   claimed takes over its previous owner's last state (scores, reasons, last probe time);
5. settles the pools it owns (see `coordination_pools`) and logs `pool.empty`/`pool.restored`;
6. schedules the providers it gained (their next probe follows their last one, wherever it
   ran) and unschedules those it lost.

With `daemon.vantage` set (a quorum across sites), each site's replicas share the probing among
themselves: the prober of a provider in a site is its rendezvous owner among that site's live
members, holding the lease `vote:<site>:<provider>`, and it writes that site's vote after every
probe (`coordination_votes`, fenced like the rows). The writer of the shared state is the owner
among all members, which is always also the prober of its own site (the highest weight overall
is the highest in its site too). Other sites' probers only vote (`state.observe_vote`); the
writer's step reads their votes (refreshed every round): the shared state follows the tally
after each of the writer's probes and after each round (`state.observe_quorum`), so K other
sites can take a provider down, or bring it back, whatever the writer's own site sees.

A lease whose local deadline passes (a paused process, a store out of reach) is dropped at once:
the replica stops probing and writing that provider before the store would let anyone else
take it. Writes go through `FencedStore`, so the store refuses any that come too late anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

import structlog
from prometheus_client import CollectorRegistry

from modelmesh_healthd.daemon.coordination_metrics import ReplicaCollector
from modelmesh_healthd.daemon.coordination_pools import settle_pools
from modelmesh_healthd.daemon.coordination_votes import SiteVotes, vantage_of
from modelmesh_healthd.daemon.timing import base_delay, first_due
from modelmesh_healthd.state import (
    SCHEMA_VERSION,
    Event,
    PoolEmpty,
    PoolRestored,
    ProviderState,
    SystemState,
    observe_quorum,
    phase_of,
)
from modelmesh_healthd.state.spend import carry_spend
from modelmesh_healthd.storage.base import Envelope, Row, StateStore
from modelmesh_healthd.storage.coordination import (
    POOL_SHARD,
    PROVIDER_SHARD,
    Coordination,
    pool_shard,
    provider_shard,
    vote_shard,
)
from modelmesh_healthd.storage.coordination_backends import coordination_for
from modelmesh_healthd.storage.errors import StoreError, StoreURLError
from modelmesh_healthd.storage.fenced import FencedStore
from modelmesh_healthd.storage.log import LOGGER_NAME
from modelmesh_healthd.storage.rendezvous import owner_of
from modelmesh_healthd.storage.row_encode import MEMBERS, POOL, PROVIDER, row_for

if TYPE_CHECKING:
    import random
    from collections.abc import Awaitable, Callable

    from modelmesh_healthd.config import Config
    from modelmesh_healthd.daemon.scheduler import Scheduler
    from modelmesh_healthd.daemon.timing import Timing
    from modelmesh_healthd.state import HealthCore, HealthPolicy, Mesh


class _Metrics(Protocol):
    @property
    def registry(self) -> CollectorRegistry: ...


class _Supervision(Protocol):
    @property
    def metrics(self) -> _Metrics: ...


class Daemon(Protocol):
    """What the coordinator drives of its daemon (the service's `Daemon` is one)."""

    config: Config
    writer_id: str
    rng: random.Random
    wall_clock: Callable[[], float]
    core: HealthCore
    sinks: list[Callable[[list[Event]], None]]

    def publish(self, events: list[Event]) -> None: ...
    @property
    def providers(self) -> Mapping[str, Timing]: ...
    @property
    def scheduler(self) -> Scheduler | None: ...
    @property
    def supervision(self) -> _Supervision: ...
    @property
    def mesh(self) -> Mesh: ...
    @property
    def state(self) -> SystemState: ...
    @property
    def policy(self) -> HealthPolicy: ...


__all__ = [
    "Coordinator",
    "ReplicaCounts",
]

_log = structlog.get_logger(LOGGER_NAME)
_state_log = structlog.get_logger("modelmesh_healthd.daemon")

_RETRY = 1.0
"""Seconds between rounds while the store is out of reach."""


class ReplicaCounts:
    """Counters of the coordination, for metrics and `status`."""

    __slots__ = (
        "lease_renewals",
        "members",
        "owned_providers",
        "quorum_pending",
        "takeovers",
        "votes",
    )

    def __init__(self) -> None:
        self.members = 0
        self.owned_providers = 0
        self.lease_renewals = 0
        self.takeovers = 0
        """Providers this replica claimed that another replica had written before."""
        self.votes = 0
        """Votes this replica wrote for its site."""
        self.quorum_pending = 0
        """Providers it writes whose down transition waits for the quorum."""


class Coordinator:
    """One replica's membership and leases, driving what its daemon probes."""

    def __init__(self, daemon: Daemon, store: StateStore, ttl: float) -> None:
        """Args:
        daemon: The daemon whose scheduler and state this replica drives.
        store: The opened-on-start Redis or PostgreSQL store (not opened yet).
        ttl: Lease and membership TTL in seconds.

        Raises:
            StoreURLError: The store cannot coordinate replicas (SQLite, file, memory).
        """
        coordination = coordination_for(store)
        if coordination is None:
            raise StoreURLError(
                f"{store.url}: replicas need a Redis or PostgreSQL store; SQLite and file "
                "stores have one writer (a second daemon waits as a standby)"
            )
        self.daemon = daemon
        self.coordination: Coordination = coordination
        self.ttl = ttl
        self.vantage = daemon.config.daemon.vantage
        """This replica's site (None: no quorum across sites, replicas share one site)."""
        self.member = f"{daemon.writer_id}#{uuid.uuid4().hex[:6]}"
        if self.vantage is not None:
            self.member += f"@{self.vantage}"
        self.store = FencedStore(store, coordination, self.member, on_fenced=self._fenced)
        self.leases = self.store.leases
        self.counts = ReplicaCounts()
        self.votes: SiteVotes | None = None
        """This site's votes (None: no quorum across sites)."""
        if self.vantage is not None:
            self.votes = SiteVotes(
                coordination,
                self.store,
                self.member,
                self.vantage,
                ttl,
                quorum=lambda: daemon.core.quorum,
                clock=daemon.wall_clock,
                counts=self.counts,
                on_fenced=self._fenced,
            )
        self.members: tuple[str, ...] = ()
        self._announced: dict[str, bool] = {}
        self._owed: set[str] = set()
        """Pool shards whose rows must be written (changed, or missing from the store)."""
        self._prepared = False
        self._sent: dict[str, float] = {}
        """Provider -> when this replica last sent it a probe: a probe whose result was not
        recorded (its lease lapsed while it ran) still sets when the next one is due."""
        self._wake = asyncio.Event()
        self._left = False
        self.on_hand_over: list[Callable[[list[str]], Awaitable[None]]] = []
        """Awaited with the providers a rebalance gives away, before their leases are released
        (the history saves what it recorded for them, so their new owner reads it)."""
        daemon.supervision.metrics.registry.register(ReplicaCollector(self))

    # --- what this replica owns -------------------------------------------------

    def owns_provider(self, provider: str) -> bool:
        """True while this replica probes the provider: it holds the provider's lease, or, in a
        quorum across sites, its site's vote lease on it."""
        return self.leases.owns(self._probe_shard(provider))

    def writes_provider(self, provider: str) -> bool:
        """True while this replica holds the provider's lease (writes its shared state)."""
        return self.leases.owns(provider_shard(provider))

    def _probe_shard(self, provider: str) -> str:
        if self.vantage is None:
            return provider_shard(provider)
        return vote_shard(provider, self.vantage)

    def _probed_by_shard(self, shard: str) -> str | None:
        """The provider a shard makes this replica probe (None: the shard probes nothing)."""
        if self.vantage is None:
            return shard[len(PROVIDER_SHARD) :] if shard.startswith(PROVIDER_SHARD) else None
        prefix = vote_shard("", self.vantage)
        return shard[len(prefix) :] if shard.startswith(prefix) else None

    def shown(self, events: list[Event]) -> list[Event]:
        """The events a probe's replica logs: pool events are the pool owner's to log."""
        return [e for e in events if not isinstance(e, (PoolEmpty, PoolRestored))]

    def _providers(self) -> list[str]:
        return [p for p, cfg in self.daemon.config.providers.items() if cfg.enabled]

    def _wanted(self, members: tuple[str, ...]) -> set[str]:
        """The shards this replica should hold among `members` (rendezvous hashing)."""
        providers = self._providers()
        shards = [provider_shard(p) for p in providers]
        shards += [pool_shard(p) for p in self.daemon.mesh.pools]
        want = {s for s in shards if owner_of(s, members) == self.member}
        if self.vantage is not None:
            # A site's prober is the owner among the site's members by the provider shard's
            # own weights, so the writer (owner among all) is the prober of its own site.
            site = [m for m in members if vantage_of(m) == self.vantage]
            want |= {
                vote_shard(p, self.vantage)
                for p in providers
                if owner_of(provider_shard(p), site) == self.member
            }
        return want

    # --- the loop ---------------------------------------------------------------

    async def start(self) -> None:
        """Join and take this replica's share before the scheduler starts (first round)."""
        with contextlib.suppress(StoreError):
            await self.round()
        _log.info(
            "replica.joined",
            member=self.member,
            lease_ttl_s=self.ttl,
            members=len(self.members),
            owned_providers=self.counts.owned_providers,
        )

    async def run(self) -> None:
        """Rounds until cancelled or left; a store fault only delays the next round."""
        while not self._left:  # a loop that outlived the stop must not join again
            try:
                delay = await self.round()
            except StoreError as exc:
                _log.warning("replica.store_unavailable", member=self.member, reason=str(exc))
                self._drop(self.leases.expired(), "expired")
                delay = _RETRY
            except Exception as exc:  # noqa: BLE001 - a bug must not end the rounds (leases lapse)
                _log.error(
                    "replica.round_failed",
                    member=self.member,
                    reason=f"{type(exc).__name__}: {exc}",
                    exc_info=True,
                )
                self._drop(self.leases.expired(), "expired")
                delay = _RETRY
            self._wake.clear()
            # asyncio.wait, not wait_for: on Python 3.11 wait_for swallows a cancellation that
            # arrives while the event is set, and the daemon's stop would wait for ever.
            wake = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait((wake,), timeout=delay)
            finally:
                wake.cancel()

    async def stop(self) -> None:
        """Leave: the leases go at once, so the others take over without waiting a TTL."""
        self._left = True
        held = self.leases.tokens()
        self._drop(set(held), None)
        try:
            await self.coordination.leave(self.member)
        except StoreError as exc:
            _log.warning("replica.leave_failed", member=self.member, reason=str(exc))
            return
        _log.info("replica.left", member=self.member, released=len(held))

    async def round(self) -> float:
        """One round (see the module docstring); returns the seconds until the next."""
        began = time.monotonic()
        if not self._prepared:
            await self.coordination.prepare(self.store.epoch_floor)
            self._prepared = True
        # Leases are renewed before the heartbeat: a replica that dies between the two leaves
        # leases that expire no later than its membership, so whoever sees it gone can claim
        # its providers at once instead of a round later.
        self._drop(self.leases.expired(), "expired")
        held = self.leases.tokens()
        sent = time.monotonic()
        renewed = await self.coordination.renew(self.member, held, self.ttl)
        self.counts.lease_renewals += len(renewed)
        for shard in renewed:
            self.leases.grant(shard, held[shard], sent + self.ttl)
        self._drop(set(held) - renewed, "lost")
        beat = await self.coordination.heartbeat(self.member, self.ttl)
        members = tuple(sorted(set(beat.members) | {self.member}))
        if members != self.members:
            _log.info("replica.members", member=self.member, members=list(members))
        self.members = members
        self.counts.members = len(members)
        want = self._wanted(members)
        unwanted = {s: t for s, t in held.items() if s in renewed and s not in want}
        busy = self._stop_probing(unwanted)
        handed = {s: t for s, t in unwanted.items() if s not in busy}
        if handed:
            self._drop(set(handed), "rebalanced")
            given = sorted(s[len(PROVIDER_SHARD) :] for s in handed if s.startswith(PROVIDER_SHARD))
            # Bounded: a history store that hangs must not keep this round from renewing the
            # other leases in time (what it had not saved by then is dropped, as on expiry).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.ttl / 3.0):
                    for hook in self.on_hand_over:
                        await hook(given)
            await self.coordination.release(self.member, handed)
        renewed -= set(unwanted)
        sent = time.monotonic()
        claim = await self.coordination.claim(self.member, sorted(want - renewed), self.ttl)
        for shard, token in claim.granted.items():
            self.leases.grant(shard, token, sent + self.ttl)
        stored = (await self.store.load(repair=False)).snapshot
        await self._adopt(set(claim.granted), None if stored is None else stored.state)
        if self.votes is not None:
            await self.votes.read(members)
            self._follow_votes()
        others = [left for m, left in beat.members.items() if m != self.member]
        soonest = min([*claim.waiting.values(), *others], default=self.ttl)
        # A slow round (a busy host) shortens the wait: renewals keep their cadence.
        return max(0.05, min(self.ttl / 3.0, soonest + 0.05) - (time.monotonic() - began))

    # --- applying a round -------------------------------------------------------

    async def _adopt(self, claimed: set[str], stored: SystemState | None) -> None:
        daemon = self.daemon
        state, mesh = daemon.state, daemon.mesh
        missing: list[Row] = []
        gained: list[str] = []
        for provider in mesh.providers:
            shard = provider_shard(provider)
            mine = self.leases.owns(shard)
            if mine and shard not in claimed:
                continue  # ours all along: the local state is the newest
            theirs = None if stored is None else stored.providers.get(provider)
            local = state.providers.get(provider)
            _share_spend(local, theirs)
            if mine and theirs is not None and not _newer(theirs, local):
                theirs = None  # re-claimed our own lease: our copy has what is not written yet
            if theirs is not None:
                state.providers[provider] = theirs
                for model in mesh.provider_models[provider]:
                    if stored is not None and model in stored.models:
                        state.models[model] = stored.models[model]
                daemon.core.reindex((provider,))  # its overrides, as the store has them
                if mine:
                    self.counts.takeovers += 1
            elif mine:
                missing.append(row_for(state, mesh, PROVIDER, provider))
            if mine:
                gained.append(provider)
        for shard in claimed:
            if shard.startswith(POOL_SHARD):
                pool = shard[len(POOL_SHARD) :]
                if stored is None or pool not in stored.pools:
                    self._owed.add(shard)
        events, changed = settle_pools(
            mesh,
            state,
            daemon.wall_clock(),
            owns=lambda pool: self.leases.owns(pool_shard(pool)),
            stored=stored,
            announced=self._announced,
        )
        self._owed.update(pool_shard(p) for p in changed)
        self._announce(events)
        await self._write(missing)
        self._schedule(self._gained(claimed, gained))
        self._count_owned()

    def _gained(self, claimed: set[str], written: list[str]) -> list[str]:
        """The providers a round's claims make this replica start probing."""
        if self.vantage is None:
            return written
        return [p for s in claimed if (p := self._probed_by_shard(s)) is not None]

    async def _write(self, provider_rows: list[Row]) -> None:
        daemon = self.daemon
        by_shard: dict[str, list[Row]] = {provider_shard(r.key): [r] for r in provider_rows}
        for shard in list(self._owed):
            pool = shard[len(POOL_SHARD) :]
            if pool not in daemon.state.pools or not self.leases.owns(shard):
                self._owed.discard(shard)
                continue
            by_shard[shard] = [
                row_for(daemon.state, daemon.mesh, POOL, pool),
                row_for(daemon.state, daemon.mesh, MEMBERS, pool),
            ]
        if not by_shard:
            return
        envelope = Envelope(
            SCHEMA_VERSION, daemon.wall_clock(), daemon.writer_id, 0, daemon.state.timestamp
        )
        await self.store.write_rows(by_shard, envelope)
        self._owed.clear()

    def _announce(self, events: list[Event]) -> None:
        for event in events:
            getattr(_state_log, event.log_level)(event.name, replica=self.member, **event.fields())
        if events:
            for sink in self.daemon.sinks:
                sink(events)

    def schedule_owned(self) -> None:
        """Schedule every owned provider the scheduler does not have yet."""
        self._schedule(list(self.daemon.providers))

    def _schedule(self, providers: Iterable[str]) -> None:
        """Put gained providers on the scheduler, their next probe one interval after the last."""
        daemon = self.daemon
        scheduler = daemon.scheduler
        if scheduler is None:
            return
        mono, wall = scheduler.now(), daemon.wall_clock()
        for name in providers:
            timing = daemon.providers.get(name)
            if timing is None or name in scheduler or not self.owns_provider(name):
                continue
            ps = daemon.state.providers[name]
            quorum = daemon.core.quorum
            if quorum is not None and self.vantage is not None:
                # A site's prober follows its site's last probe (its stored vote), not the
                # writer's, which another site may have made a moment ago.
                quorum.seed(name, ps)
                ps = quorum.sites[name]
                last = quorum.votes.get(name, {}).get(self.vantage)
                if last is not None and (ps.last_probe is None or last.at > ps.last_probe):
                    ps = ProviderState.from_dict({**ps.to_dict(), "last_probe": last.at})
            sent = self._sent.get(name)
            if sent is not None and (ps.last_probe is None or sent > ps.last_probe):
                ps = ProviderState.from_dict({**ps.to_dict(), "last_probe": sent})
            phase = phase_of(ps, daemon.policy)
            if ps.last_probe is None:
                due = first_due(timing, phase, mono, daemon.rng.random())
            else:
                delay = base_delay(timing, phase, daemon.core.down_probes.get(name, 0))
                due = mono + min(delay, max(0.0, ps.last_probe + delay - wall))
            scheduler.add(name, due)

    def _stop_probing(self, unwanted: Mapping[str, int]) -> set[str]:
        """Unschedule the providers of leases to hand over; return those with a probe in flight.

        Their leases are kept (and renewed) until the probe's result is written, and released a
        round later: the new owner then schedules from that probe, not from the one before it,
        and does not probe the provider again right after it.
        """
        scheduler = self.daemon.scheduler
        if scheduler is None:
            return set()
        busy = set()
        for shard in unwanted:
            name = self._probed_by_shard(shard)
            if name is None:
                continue
            scheduler.remove(name)
            if scheduler.running(name):
                busy.add(shard)
        return busy

    def probing(self, provider: str, at: float) -> None:
        """Note that a probe of `provider` is being sent now (Unix time `at`)."""
        self._sent[provider] = at

    def _drop(self, shards: set[str], why: str | None) -> None:
        """Forget leases and stop probing their providers (why None: leaving, not logged)."""
        if not shards:
            return
        self.leases.drop(shards)
        scheduler = self.daemon.scheduler
        providers = sorted(p for s in shards if (p := self._probed_by_shard(s)) is not None)
        if scheduler is not None:
            for name in providers:
                scheduler.remove(name)
        quorum = self.daemon.core.quorum
        if quorum is not None:
            for shard in shards:
                if shard.startswith(PROVIDER_SHARD):
                    quorum.pending.discard(shard[len(PROVIDER_SHARD) :])
            for name in providers:
                quorum.forget(name)  # voting on it again later starts from the shared state
        for shard in shards:
            if shard.startswith(POOL_SHARD):
                self._announced.pop(shard[len(POOL_SHARD) :], None)
        if why == "rebalanced":
            _log.info(
                "replica.handed_over",
                member=self.member,
                providers=providers[:20],
                count=len(shards),
            )
        elif why is not None:
            _log.warning(
                "replica.leases_lost",
                member=self.member,
                why=why,
                providers=providers[:20],
                count=len(shards),
            )
        self._count_owned()

    def _follow_votes(self) -> None:
        """The shared state of each provider this replica writes follows the votes just read:
        other sites can take it down, or bring it back, between this site's probes."""
        daemon = self.daemon
        if daemon.core.quorum is None:
            return
        now = daemon.wall_clock()
        for provider in self._providers():
            if provider in daemon.state.providers and self.writes_provider(provider):
                step = observe_quorum(daemon.core, provider, now)
                if step.events:
                    daemon.publish(step.events)
        self.counts.quorum_pending = len(daemon.core.quorum.pending)

    def _count_owned(self) -> None:
        self.counts.owned_providers = sum(
            1 for s in self.leases.shards() if s.startswith(PROVIDER_SHARD)
        )

    def _fenced(self, shards: set[str]) -> None:
        self._drop(shards, None)  # already logged as store.write_fenced
        self._wake.set()  # a fresh round now: someone else holds these

    async def stored_state(self) -> dict[str, object]:
        """The whole state as the store holds it (what every replica and router reads).

        Raises:
            StoreError: The store cannot be read.
        """
        snapshot = (await self.store.inner.load(repair=False)).snapshot
        document = {} if snapshot is None else snapshot.state.to_dict()
        if self.votes is not None:
            document["votes"] = await self.votes.document()
        return document


def _share_spend(local: ProviderState | None, stored: ProviderState | None) -> None:
    """Give both copies of a provider the larger canary spend of the day: whichever copy is
    kept, a reservation the last owner stored is never forgotten by the next (`state.spend`)."""
    if local is not None and stored is not None:
        carry_spend(local, stored)
        carry_spend(stored, local)


def _newer(stored: ProviderState, local: ProviderState | None) -> bool:
    """Whether the stored copy of a provider saw a later probe than the local one."""
    if local is None or local.last_probe is None:
        return True
    return stored.last_probe is not None and stored.last_probe > local.last_probe
