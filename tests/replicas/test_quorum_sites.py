"""Quorum across sites, as real processes on real Redis and PostgreSQL: two sites, each probing
its own simulator (its own "network"), with `health.quorum: 2`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from replica_support import Replica, fleet_config, providers, replicas, settled, until

from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.state import SystemState
from modelmesh_healthd.storage import open_store, read_state
from modelmesh_healthd.storage.coordination import StoredVote
from modelmesh_healthd.storage.coordination_backends import coordination_for
from service_support import free_port

TTL = 3.0
COUNT = 6
SITES = ("east", "west")


def site_config(base_url: str, url: str, site: str, admin_port: int | None = None) -> str:
    """The fleet's configuration as one site runs it: its own simulator, quorum 2, one pool."""
    text = fleet_config(base_url, url, COUNT, interval=0.5, pool_size=COUNT, admin_port=admin_port)
    text = text.replace("daemon:\n", f"daemon:\n  vantage: {site}\n", 1)
    return text.replace("schedule:\n", "health: {quorum: 2}\nschedule:\n", 1)


async def stored_votes(url: str) -> list[StoredVote]:
    async with open_store(url) as store:
        coordination = coordination_for(store)
        assert coordination is not None
        return await coordination.votes()


async def state_of(url: str) -> SystemState:
    state = await read_state(url)
    assert state is not None
    return state


def named(sites: list[Replica], event: str, **fields: object) -> list[dict[str, Any]]:
    return [
        e for r in sites for e in r.named(event) if all(e.get(k) == v for k, v in fields.items())
    ]


async def test_one_sites_failures_hold_a_provider_up_and_both_sites_take_it_down(
    shared_url: str, tmp_path: Path
) -> None:
    url = f"{shared_url}&replicas=on&lease_ttl={TTL}"
    sims = {site: Simulator(providers(COUNT)) for site in SITES}
    for sim in sims.values():
        await sim.start()
    configs = {}
    port = free_port()
    for site, sim in sims.items():
        configs[site] = tmp_path / f"{site}.yaml"
        configs[site].write_text(
            site_config(sim.base_url, url, site, port if site == "west" else None)
        )
    try:
        async with replicas(configs["east"], 1) as east, replicas(configs["west"], 1) as west:
            sites = east + west
            owners = await settled(url, COUNT, 2)
            # a provider whose shared state the west site writes: its own failures ask for quorum
            x = next(p for p, m in sorted(owners.items()) if m.endswith("@west"))
            model = f"m{x[1:]}"
            await until(
                lambda: _both_sites_voted(url, x), "both sites voted on the provider", within=30
            )

            sims["west"].set_behaviour(x, "server_error")
            await until(lambda: _pending(sites, x), "provider.quorum_pending from the west site")
            seen = sims["west"].counts()[x]
            await until(  # several more held probes: the hold lasts, it is no race
                _more_probes(sims["west"], x, seen + 4), "more probes from the west site"
            )
            held = await state_of(url)
            votes = {v.vantage: v for v in await stored_votes(url) if v.provider == x}
            assert held.providers[x].available
            assert held.models[model].is_active
            assert not named(sites, "provider.down", provider=x)
            assert '"down": true' in votes["west"].data
            assert '"down": false' in votes["east"].data
            async with httpx.AsyncClient(trust_env=False, timeout=5.0) as client:
                shown = (await client.get(f"http://127.0.0.1:{port}/v1/state")).json()
                metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
            assert "modelmesh_healthd_replica_quorum_pending 1.0" in metrics.splitlines()
            assert shown["state"]["votes"][x]["west"]["down"] is True
            assert shown["state"]["votes"][x]["east"]["down"] is False
            assert shown["state"]["votes"][x]["west"]["fresh"] is True

            sims["east"].set_behaviour(x, "server_error")
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
    finally:
        for sim in sims.values():
            await sim.stop()
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
    url = f"{shared_url}&replicas=on&lease_ttl={TTL}"
    sims = {site: Simulator(providers(COUNT)) for site in SITES}
    for sim in sims.values():
        await sim.start()
    configs = {}
    for site, sim in sims.items():
        configs[site] = tmp_path / f"{site}.yaml"
        configs[site].write_text(site_config(sim.base_url, url, site))
    try:
        async with replicas(configs["east"], 1) as east, replicas(configs["west"], 1) as west:
            await settled(url, COUNT, 2)
            await until(lambda: _both_sites_voted(url, "p000"), "both sites voted", within=30)
            east[0].proc.kill()  # the east site is gone: its votes go stale, its members expire
            await east[0].proc.wait()
            sims["west"].set_behaviour("p000", "server_error")
            down = await until(
                lambda: _provider_down(url, "p000"),
                "the provider down on the one live site's word",
            )
            pending = named(west, "provider.quorum_pending", provider="p000")
    finally:
        for sim in sims.values():
            await sim.stop()
    assert not down.models["m000"].is_active
    # If the west site saw it fail while the east one still counted, it waited for it first.
    for event in pending:
        assert event["needed"] == 2
