"""Quorum across sites, as real processes on real Redis and PostgreSQL: two sites, each probing
its own simulator (its own "network"), with `health.quorum: 2`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from replica_support import Replica, coordination_of, fleet_config, providers, replicas, until

from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.state import SystemState
from modelmesh_healthd.storage import read_state
from modelmesh_healthd.storage.coordination import PROVIDER_SHARD, StoredVote, provider_shard
from modelmesh_healthd.storage.rendezvous import owner_of
from service_support import free_port

TTL = 3.0
COUNT = 6
SITES = ("east", "west")


def site_config(base_url: str, url: str, site: str, admin_port: int | None = None) -> str:
    """The fleet's configuration as one site runs it: its own simulator, quorum 2, one pool."""
    # The tests wait on recoveries (several successes at this interval) and stale votes (a vote
    # counts for an interval plus the probe timeout plus the TTL), so a shorter interval is less
    # waiting; the margin a late vote has before it goes stale (timeout + TTL) stays the same.
    text = fleet_config(base_url, url, COUNT, interval=1.0, pool_size=COUNT, admin_port=admin_port)
    text = text.replace("daemon:\n", f"daemon:\n  vantage: {site}\n", 1)
    return text.replace("schedule:\n", "health: {quorum: 2}\nschedule:\n", 1)


async def stored_votes(url: str) -> list[StoredVote]:
    async with coordination_of(url) as coordination:
        return await coordination.votes()


async def state_of(url: str) -> SystemState:
    state = await read_state(url)
    assert state is not None
    return state


def named(sites: list[Replica], event: str, **fields: object) -> list[dict[str, Any]]:
    return [
        e for r in sites for e in r.named(event) if all(e.get(k) == v for k, v in fields.items())
    ]


@dataclass
class Sites:
    """Sites running: each its own simulator and one replica, all on one shared store."""

    url: str
    sims: dict[str, Simulator]
    ports: dict[str, int | None]
    """Each site's admin port (None: no admin endpoint)."""
    replicas: dict[str, list[Replica]]

    @property
    def everyone(self) -> list[Replica]:
        """Every site's replicas, for the events they logged."""
        return [r for running in self.replicas.values() for r in running]


@contextlib.asynccontextmanager
async def quorum_sites(
    shared_url: str, tmp_path: Path, names: tuple[str, ...], *, admin: bool = False
) -> AsyncIterator[Sites]:
    """One replica per site in `names` (`site_config`), each probing its own simulator; the
    replicas are killed, then the simulators stopped, at exit."""
    url = f"{shared_url}&replicas=on&lease_ttl={TTL}"
    sims = {site: Simulator(providers(COUNT)) for site in names}
    for sim in sims.values():
        await sim.start()
    ports = {site: free_port() if admin else None for site in names}
    try:
        async with contextlib.AsyncExitStack() as stack:
            running = {}
            for site, sim in sims.items():
                config = tmp_path / f"{site}.yaml"
                config.write_text(site_config(sim.base_url, url, site, ports[site]))
                running[site] = await stack.enter_async_context(replicas(config, 1))
            yield Sites(url, sims, ports, running)
    finally:
        for sim in sims.values():
            await sim.stop()


async def test_one_sites_failures_hold_a_provider_up_and_both_sites_take_it_down(
    shared_url: str, tmp_path: Path
) -> None:
    async with quorum_sites(shared_url, tmp_path, SITES, admin=True) as running:
        url, sims, ports, sites = running.url, running.sims, running.ports, running.everyone
        # With 6 providers, one of two replicas may write none: wait on its vote leases.
        owners = await until(lambda: _settled_sites(url, 2), "both sites' leases settled", 120)
        x = "p000"
        model = "m000"
        # its writer's site fails alone first: its own failures ask for the quorum
        mine = owners[x].rpartition("@")[2]
        other = next(site for site in SITES if site != mine)
        await until(
            lambda: _both_sites_voted(url, x), "both sites voted on the provider", within=30
        )

        sims[mine].set_behaviour(x, "server_error")
        await until(lambda: _pending(sites, x), "provider.quorum_pending from the writer")
        seen = sims[mine].counts()[x]
        await until(  # several more held probes: the hold lasts, it is no race
            _more_probes(sims[mine], x, seen + 4), "more probes from the writer's site"
        )
        held = await state_of(url)
        votes = {v.vantage: v for v in await stored_votes(url) if v.provider == x}
        assert held.providers[x].available
        assert held.models[model].is_active
        assert not named(sites, "provider.down", provider=x)
        assert '"down": true' in votes[mine].data
        assert '"down": false' in votes[other].data
        async with httpx.AsyncClient(trust_env=False, timeout=5.0) as client:
            shown = (await client.get(f"http://127.0.0.1:{ports[other]}/v1/state")).json()
            metrics = (await client.get(f"http://127.0.0.1:{ports[mine]}/metrics")).text
        assert "modelmesh_healthd_replica_quorum_pending 1.0" in metrics.splitlines()
        assert shown["state"]["votes"][x][mine]["down"] is True
        assert shown["state"]["votes"][x][other]["down"] is False
        assert shown["state"]["votes"][x][mine]["fresh"] is True

        sims[other].set_behaviour(x, "server_error")
        down = await until(
            lambda: _provider_down(url, x), "the provider down once both sites agree"
        )
        assert not down.models[model].is_active
        assert model in down.pools["pool00"].standby_models
        assert len(named(sites, "provider.down", provider=x)) == 1

        # every provider fails for both sites: the pool empties, announced exactly once
        for sim in sims.values():
            for name in sim.providers:
                sim.set_behaviour(name, "server_error")
        await until(lambda: _pool_empty(url), "the pool empty in the store")
        await until(lambda: _announced(sites, "pool.empty"), "pool.empty from the pool's owner")
        for sim in sims.values():
            for name in sim.providers:
                sim.set_behaviour(name, "healthy")
        await until(lambda: _pool_full(url), "the pool restored in the store")
        await until(lambda: _announced(sites, "pool.restored"), "pool.restored from its owner")
        await asyncio.sleep(2 * TTL / 3)  # a round more on every replica: nothing repeats
        empties = named(sites, "pool.empty", pool="pool00")
        restores = named(sites, "pool.restored", pool="pool00")
    assert len(empties) == 1
    assert len(restores) == 1


async def _both_sites_voted(url: str, provider: str) -> bool:
    return {v.vantage for v in await stored_votes(url) if v.provider == provider} == set(SITES)


async def _pending(sites: list[Replica], provider: str) -> bool:
    return bool(named(sites, "provider.quorum_pending", provider=provider))


def _more_probes(sim: Simulator, provider: str, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return sim.counts()[provider] >= count

    return check


async def _provider_down(url: str, provider: str) -> SystemState | None:
    state = await state_of(url)
    return None if state.providers[provider].available else state


async def _pool_empty(url: str) -> bool:
    return not (await state_of(url)).pools["pool00"].active_models


async def _pool_full(url: str) -> bool:
    return len((await state_of(url)).pools["pool00"].active_models) == COUNT


async def _announced(sites: list[Replica], event: str) -> bool:
    return bool(named(sites, event, pool="pool00"))


async def test_a_site_that_stopped_voting_does_not_hold_a_provider_up_for_ever(
    shared_url: str, tmp_path: Path
) -> None:
    async with quorum_sites(shared_url, tmp_path, SITES) as running:
        url, sims = running.url, running.sims
        east, west = running.replicas["east"], running.replicas["west"]
        await until(lambda: _settled_sites(url, 2), "both sites' leases settled", 120)
        await until(lambda: _both_sites_voted(url, "p000"), "both sites voted", within=30)
        east[0].proc.kill()  # the east site is gone: its votes go stale, its members expire
        await east[0].proc.wait()
        sims["west"].set_behaviour("p000", "server_error")
        down = await until(
            lambda: _provider_down(url, "p000"),
            "the provider down on the one live site's word",
        )
        pending = named(west, "provider.quorum_pending", provider="p000")
    assert not down.models["m000"].is_active
    # If the west site saw it fail while the east one still counted, it waited for it first.
    for event in pending:
        assert event["needed"] == 2


THREE = ("east", "north", "west")


async def _vote_of(url: str, provider: str, site: str) -> bool | None:
    """The site's stored vote on the provider: True down, False up, None none yet."""
    found = [v for v in await stored_votes(url) if v.provider == provider and v.vantage == site]
    return None if not found else '"down": true' in found[0].data


def _voted(url: str, provider: str, site: str, *, down: bool) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await _vote_of(url, provider, site) is down

    return check


async def _settled_sites(url: str, members: int) -> dict[str, str] | None:
    """Provider -> writer, once each of `members` replicas holds its leases (its vote leases
    at least: with few providers, one may write none) and every writer is its rendezvous
    owner."""
    async with coordination_of(url) as coordination:
        held = await coordination.owners()
    live = set(held.values())
    writers = {s[len(PROVIDER_SHARD) :]: m for s, m in held.items() if s.startswith(PROVIDER_SHARD)}
    settled_ = (
        len(live) == members
        and len(writers) == COUNT
        and all(owner_of(provider_shard(p), live) == m for p, m in writers.items())
    )
    return writers if settled_ else None


async def _provider_up(url: str, provider: str) -> SystemState | None:
    state = await state_of(url)
    return state if state.providers[provider].available else None


async def test_three_sites_the_shared_state_follows_any_two_whichever_is_the_writer(
    shared_url: str, tmp_path: Path
) -> None:
    """K = 2 of 3: the writer's site alone cannot take a provider down, the two others can
    (while the writer's site sees it up), and it recovers when they see it up again although the
    writer's site still sees it down."""
    async with quorum_sites(shared_url, tmp_path, THREE) as running:
        url, sims, sites = running.url, running.sims, running.everyone
        owners = await until(lambda: _settled_sites(url, 3), "3 sites' leases settled", 120)
        x = "p000"
        model = "m000"
        writer = owners[x].rpartition("@")[2]
        others = [s for s in THREE if s != writer]
        for site in THREE:
            await until(_voted(url, x, site, down=False), f"{site} voted up", within=60)

        # 1. the writer's site alone sees it down: held up
        sims[writer].set_behaviour(x, "server_error")
        await until(_voted(url, x, writer, down=True), "the writer's site votes down")
        seen = sims[writer].counts()[x]
        await until(_more_probes(sims[writer], x, seen + 4), "more probes from the writer")
        assert (await state_of(url)).providers[x].available
        assert not named(sites, "provider.down", provider=x)

        # 2. the two other sites agree: down, once
        for site in others:
            sims[site].set_behaviour(x, "server_error")
        down = await until(lambda: _provider_down(url, x), "down once 3 sites agree")
        assert not down.models[model].is_active

        # 3. the two others see it up again, the writer's site still down: it recovers
        for site in others:
            sims[site].set_behaviour(x, "healthy")
        up = await until(lambda: _provider_up(url, x), "up once only the writer sees it down")
        assert up.models[model].is_active
        assert await _vote_of(url, x, writer) is True
        recovered = named(sites, "provider.quorum_decided", provider=x, to="up")
        assert [e["down"] for e in recovered] == [[writer]]

        # 4. the writer's site sees it up, the two others down: the two take it down
        sims[writer].set_behaviour(x, "healthy")
        await until(_voted(url, x, writer, down=False), "the writer's site votes up")
        for site in others:
            sims[site].set_behaviour(x, "server_error")
        down = await until(lambda: _provider_down(url, x), "down on the two others' word")
        assert not down.models[model].is_active
        assert await _vote_of(url, x, writer) is False
        decided = named(sites, "provider.quorum_decided", provider=x, to="down")
    assert decided[-1]["down"] == sorted(others)
    assert decided[-1]["needed"] == 2
    downs = named(sites, "provider.down", provider=x)
    ups = named(sites, "provider.up", provider=x)
    assert (len(downs), len(ups)) == (2, 1)  # each transition once, by the writer only
