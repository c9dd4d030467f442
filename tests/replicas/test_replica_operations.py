"""Operating replicas: readiness, /v1/state from the store, metrics, `status` owners."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from replica_support import fleet_config, providers, replicas, settled, until

from command_support import call_main
from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.storage import read_state
from service_support import free_port

TTL = 5.0


async def _two_replicas_on_admin_ports(
    url: str, tmp_path: Path, count: int
) -> tuple[Simulator, list[Path], list[int]]:
    sim = Simulator(providers(count))
    await sim.start()
    ports = [free_port(), free_port()]
    configs = []
    for i, port in enumerate(ports):
        path = tmp_path / f"healthd-{i}.yaml"
        path.write_text(fleet_config(sim.base_url, url, count, interval=0.5, admin_port=port))
        configs.append(path)
    return sim, configs, ports


async def _get(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=5.0) as client:
        return await client.get(f"http://127.0.0.1:{port}{path}")


async def _metric(port: int, name: str) -> float:
    text = (await _get(port, "/metrics")).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


async def _joined_and_settled(ports: list[int]) -> bool:
    try:
        members = [await _metric(p, "modelmesh_healthd_replica_members") for p in ports]
        owned = [await _metric(p, "modelmesh_healthd_replica_owned_providers") for p in ports]
    except httpx.TransportError:
        return False  # a replica still starting: its admin endpoint is not up yet
    return members == [2.0, 2.0] and sorted(owned) == [0.0, 1.0]


async def _p000_down(url: str) -> bool:
    stored = await read_state(url)
    return stored is not None and bool(stored.providers["p000"].down_reason)


async def test_a_replica_that_owns_nothing_is_ready_and_reports_the_store_state(
    shared_url: str, tmp_path: Path
) -> None:
    url = f"{shared_url}&replicas=on&lease_ttl={TTL}"
    sim, configs, ports = await _two_replicas_on_admin_ports(url, tmp_path, 1)
    try:
        async with replicas(configs[0], 1), replicas(configs[1], 1):
            owners = await settled(url, 1, 1)
            await until(
                lambda: _joined_and_settled(ports), "both replicas joined, the lease with its owner"
            )
            sim.set_behaviour("p000", "key_revoked")
            await until(lambda: _p000_down(url), "p000 down in the store")
            owned = [
                await _metric(port, "modelmesh_healthd_replica_owned_providers") for port in ports
            ]
            ready = [(await _get(port, "/readyz")).status_code for port in ports]
            live = [(await _get(port, "/livez")).status_code for port in ports]
            states = [(await _get(port, "/v1/state")).json()["state"] for port in ports]
            members = [await _metric(port, "modelmesh_healthd_replica_members") for port in ports]
    finally:
        await sim.stop()
    assert sorted(owned) == [0.0, 1.0]
    assert len(set(owners.values())) == 1
    assert ready == [200, 200]
    assert live == [200, 200]
    assert members == [2.0, 2.0]
    for state in states:  # the replica probing nothing shows what the store holds
        assert state["providers"]["p000"]["down_reason"] == "auth_failure"


async def test_status_names_the_replica_that_owns_each_provider(
    shared_url: str, tmp_path: Path
) -> None:
    url = f"{shared_url}&replicas=on&lease_ttl={TTL}"
    async with Simulator(providers(12)) as sim:
        config = tmp_path / "healthd.yaml"
        # Every 5 s: the test reads leases, not probes, and each probe costs a replica CPU.
        config.write_text(fleet_config(sim.base_url, url, 12, interval=5.0))
        async with replicas(config, 2):
            owners = await settled(url, 12, 2)
            done = await asyncio.to_thread(call_main, ["status", "--store", url, "--json"])
    assert done.code == 0, done.stderr
    shown = {row["provider"]: row["owner"] for row in json.loads(done.stdout)["providers"]}
    assert shown == owners
