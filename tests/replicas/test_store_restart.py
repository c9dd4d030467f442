"""Redis, and then PostgreSQL, restarted under running replicas: probing and the stored state
carry on (private servers, so the shared ones other tests use are not disturbed)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from replica_support import ProbeRecorder, fleet_config, providers, replicas, settled, until

from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.state import SystemState
from modelmesh_healthd.storage import StoreError, read_state
from service_support import PostgresServer, RedisServerFactory

TTL = 5.0
COUNT = 30  # about 10 per replica; the test counts no probes per interval


async def _restart_under_replicas(url: str, tmp_path: Path, kill: object, start: object) -> None:
    async with Simulator(providers(COUNT)) as sim:
        config = tmp_path / "healthd.yaml"
        config.write_text(fleet_config(sim.base_url, url, COUNT, interval=1.0))
        async with replicas(config, 3), ProbeRecorder(sim) as recorder:
            await settled(url, COUNT, 3)
            revoked = ["p000", "p001", "p002"]
            for name in revoked:
                sim.set_behaviour(name, "key_revoked")
            before = await until(
                lambda: _revoked_down(url, revoked, None), "the revoked providers down in the store"
            )
            await asyncio.to_thread(kill)  # type: ignore[arg-type]
            # The outage: longer than a round (a third of the TTL) and two probe intervals, so
            # every replica fails at least one renewal and its writes in it.
            await asyncio.sleep(2.0)
            await asyncio.to_thread(start)  # type: ignore[arg-type]
            back = time.monotonic()
            await settled(url, COUNT, 3)
            await until(
                lambda: _all_probed_after(recorder, list(sim.providers), back),
                "every provider probed after the restart",
            )
            after = await until(
                lambda: _revoked_down(url, revoked, before),
                "the revoked providers' streaks carried on in the store",
            )
            probed = [recorder.first_after(name, back) for name in sim.providers]
    assert all(t is not None for t in probed), "a provider was never probed after the restart"
    assert set(after.providers) == {f"p{i:03d}" for i in range(COUNT)}
    for name in revoked:
        assert after.providers[name].down_reason == "auth_failure"
        assert (
            after.providers[name].consecutive_failures > before.providers[name].consecutive_failures
        )
    assert after.pools["pool00"].standby_models >= {"m000", "m001", "m002"}


async def _revoked_down(
    url: str, names: list[str], before: SystemState | None
) -> SystemState | None:
    """The stored state once all of `names` are down for their revoked keys in the pool's
    standby, with failure streaks longer than in `before` (when given)."""
    try:
        state = await read_state(url)
    except StoreError:
        return None  # the store is still coming back
    if state is None or len(state.providers) < COUNT:
        return None
    for name in names:
        ps = state.providers[name]
        if ps.down_reason != "auth_failure" or ps.consecutive_failures < 1:
            return None
        if before is not None and (
            ps.consecutive_failures <= before.providers[name].consecutive_failures
        ):
            return None
    models = {f"m{name[1:]}" for name in names}
    return state if state.pools["pool00"].standby_models >= models else None


async def _all_probed_after(recorder: ProbeRecorder, names: list[str], moment: float) -> bool:
    return all(recorder.first_after(name, moment) is not None for name in names)


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
