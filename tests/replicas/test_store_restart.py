"""Redis, and then PostgreSQL, restarted under running replicas: probing and the stored state
carry on (private servers, so the shared ones other tests use are not disturbed)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from replica_support import ProbeRecorder, fleet_config, providers, replicas, settled

from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.storage import read_state
from service_support import PostgresServer, RedisServerFactory

TTL = 5.0
COUNT = 60


async def _restart_under_replicas(url: str, tmp_path: Path, kill: object, start: object) -> None:
    async with Simulator(providers(COUNT)) as sim:
        config = tmp_path / "healthd.yaml"
        config.write_text(fleet_config(sim.base_url, url, COUNT, interval=1.0))
        async with replicas(config, 3), ProbeRecorder(sim) as recorder:
            await settled(url, COUNT, 3)
            revoked = ["p000", "p001", "p002"]
            for name in revoked:
                sim.set_behaviour(name, "key_revoked")
            await asyncio.sleep(3.0)
            before = await read_state(url)
            await asyncio.to_thread(kill)  # type: ignore[arg-type]
            await asyncio.sleep(3.0)
            await asyncio.to_thread(start)  # type: ignore[arg-type]
            back = time.monotonic()
            await settled(url, COUNT, 3)
            await asyncio.sleep(3.0)
            after = await read_state(url)
            probed = [recorder.first_after(name, back) for name in sim.providers]
    assert before is not None
    assert after is not None
    assert all(t is not None for t in probed), "a provider was never probed after the restart"
    assert set(after.providers) == {f"p{i:03d}" for i in range(COUNT)}
    for name in revoked:
        assert after.providers[name].down_reason == "auth_failure"
        assert (
            after.providers[name].consecutive_failures > before.providers[name].consecutive_failures
        )
    assert after.pools["pool00"].standby_models >= {"m000", "m001", "m002"}


async def test_replicas_carry_on_through_a_redis_restart_that_lost_everything(
    redis_server_factory: RedisServerFactory, tmp_path: Path
) -> None:
    server = redis_server_factory()
    url = f"{server.url}?prefix=restart:&timeout=0.5&replicas=on&lease_ttl={TTL}"
    await _restart_under_replicas(url, tmp_path, server.kill, server.start)


async def test_replicas_carry_on_through_a_postgresql_restart(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = f"{postgres_server.url}?schema=restart&timeout=1&replicas=on&lease_ttl={TTL}"
    await _restart_under_replicas(url, tmp_path, postgres_server.kill, postgres_server.start)
