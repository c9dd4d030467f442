"""The canary under replicas (real processes on Redis and on PostgreSQL): only the provider's
owner runs it, and when the owner crashes, the replica that takes the provider over carries on
from the spend the dead owner stored, not from zero."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from replica_support import KEY, lease_owners, member_of, providers, replicas, settled

from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.storage import read_state

TTL = 3.0
COUNT = 16  # shards enough that both replicas surely own some (rendezvous hashing)
WORST = (64 * 1.0 + 16 * 4.0) / 1e6  # gpt-4o's whole allowance billed, at the price below
REAL = (14 * 1.0 + 1 * 4.0) / 1e6  # what the simulator's answer costs
BUDGET = 0.00048  # room for exactly 20 canaries in a day: 19 * REAL + WORST <= BUDGET


def config_text(base_url: str, store_url: str) -> str:
    lines = [
        "daemon: {instance: replica, drain_timeout: 1s, summary_interval: 0, "
        "network_guard: {enabled: false}}",
        "schedule: {interval: 1s, jitter: 0, timeout: 2s}",
        "http: {trust_env: false}",
        f'storage: {{url: "{store_url}", sync_policy: periodic, sync_interval: 60s}}',
        "admin: {enabled: false}",
        "providers:",
    ]
    for i in range(COUNT):
        canary = (
            f", canary: {{every: 0.3s, budget_usd_per_day: {BUDGET}, stream: false}}"
            if i == 0
            else ""
        )
        lines.append(
            f'  p{i:03d}: {{kind: openai, base_url: "{base_url}/p{i:03d}/v1", '
            f"api_key: {KEY}{canary}}}"
        )
    lines.append("models:")
    price = "price: {input_usd_per_mtok: 1.0, output_usd_per_mtok: 4.0}"
    lines.append(f"  m000: {{provider: p000, name: gpt-4o, canary: true, {price}}}")
    lines.extend(f"  m{i:03d}: {{provider: p{i:03d}, name: gpt-4o}}" for i in range(1, COUNT))
    lines.append("pools:")
    lines.append("  all: {models: [" + ", ".join(f"m{i:03d}" for i in range(COUNT)) + "]}")
    return "\n".join(lines) + "\n"


async def test_a_takeover_carries_on_from_the_dead_owners_stored_canary_spend(
    shared_url: str, tmp_path: Path
) -> None:
    url = f"{shared_url}{'&' if '?' in shared_url else '?'}replicas=on&lease_ttl={TTL}"
    async with Simulator(providers(COUNT)) as sim:
        config = tmp_path / "healthd.yaml"
        config.write_text(config_text(sim.base_url, url))
        async with replicas(config, 2) as (one, two):
            await settled(url, COUNT, 2)
            owner_member = (await lease_owners(url))["p000"]
            owner, other = (one, two) if member_of(one, {"x": owner_member}) else (two, one)
            # Before the leases settled, the first replica owned everything (and ran the canary).
            before = len(other.named("canary.completed"))
            start = len(owner.named("canary.completed"))
            deadline = time.monotonic() + 30
            while len(owner.named("canary.completed")) < start + 3:
                assert time.monotonic() < deadline, "the owner sent no canaries"
                await asyncio.sleep(0.05)
            # Only the owner spends the provider's budget.
            assert len(other.named("canary.completed")) == before
            owner.proc.kill()  # a crash: nothing is flushed on the way out
            await owner.proc.wait()
            by_dead = len(owner.named("canary.completed"))

            said = await other.wait_for("canary.budget_exhausted", within=60)
            by_survivor = len(other.named("canary.completed"))
    # The survivor sent some, then stopped where one day's budget ends for both together:
    # starting from zero, it alone would have sent 20.
    assert by_survivor >= 1
    assert by_dead + by_survivor <= 20
    assert said["spent_usd"] >= (by_dead + by_survivor) * REAL - 1e-9
    assert said["spent_usd"] <= BUDGET
    # What the store holds leaves no room for another canary today, whoever reads it next.
    state = await read_state(url)
    assert state is not None
    assert BUDGET - WORST < state.providers["p000"].canary_usd <= BUDGET
