"""Votes in the store (real Redis and PostgreSQL, in this process): old votes are pruned, only
while still old; `status` shows them; a coordinator stops while its wake-up event is set."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from replica_support import coordination_of, until

from modelmesh_healthd.cli import main
from modelmesh_healthd.config import load_config_text
from modelmesh_healthd.daemon.coordination import Coordinator
from modelmesh_healthd.daemon.replica_options import replica_options
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.state import initial_state
from modelmesh_healthd.storage import open_store
from modelmesh_healthd.storage.coordination import (
    Coordination,
    StoredVote,
    VoteWrite,
    vote_shard,
)

CONFIG = """
daemon: {vantage: east}
health: {quorum: 2}
schedule: {interval: 30s, jitter: 0}
admin: {enabled: false}
providers:
  p: {kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-test-votes}
"""


async def vote_as(
    coordination: Coordination, site: str, provider: str, *, down: bool, fresh_for: float
) -> None:
    """Claim the vote lease of `site` on `provider` and write its vote."""
    member = f"test#{site}@{site}"
    claim = await coordination.claim(member, [vote_shard(provider, site)], 30.0)
    token = claim.granted[vote_shard(provider, site)]
    data = json.dumps(
        {"down": down, "since": 1.0, "at": 1.0, "fresh_for": fresh_for, "outcome": "ok"}
    )
    refused = await coordination.write_votes(member, [VoteWrite(token, provider, site, data)])
    assert not refused


def by_site(votes: list[StoredVote], provider: str) -> dict[str, StoredVote]:
    return {v.vantage: v for v in votes if v.provider == provider}


async def test_a_vote_older_than_its_max_age_is_pruned_and_a_newer_one_kept(
    shared_url: str,
) -> None:
    async with coordination_of(shared_url) as coordination:
        await vote_as(coordination, "gone", "p", down=True, fresh_for=0.01)
        await vote_as(coordination, "here", "p", down=False, fresh_for=0.01)

        async def both_old() -> bool:
            return all(v.age > 0.2 for v in await coordination.votes())

        await until(both_old, "both votes older than 0.2 s", within=30)
        await vote_as(coordination, "here", "p", down=False, fresh_for=0.01)  # written again
        # Both were read as old; "here" was written again since: only "gone" goes.
        await coordination.prune_votes([("gone", "p", 0.2), ("here", "p", 0.2)])
        left = by_site(await coordination.votes(), "p")
    assert set(left) == {"here"}


async def test_a_vote_younger_than_its_max_age_is_kept(shared_url: str) -> None:
    async with coordination_of(shared_url) as coordination:
        await vote_as(coordination, "west", "p", down=True, fresh_for=5.0)
        await coordination.prune_votes([("west", "p", 600.0)])
        left = by_site(await coordination.votes(), "p")
    assert set(left) == {"west"}


@asynccontextmanager
async def replica(url: str, ttl: float = 0.3) -> AsyncIterator[tuple[Daemon, Coordinator]]:
    """A daemon of site `east` (not started) with its coordinator on `url`."""
    full = f"{url}&replicas=on&lease_ttl={ttl}"
    bare, lease_ttl = replica_options(full)
    assert lease_ttl is not None
    config = load_config_text(CONFIG + f'storage: {{url: "{full}"}}\n', environ={})
    daemon = Daemon(config, store_url=bare)
    coordinator = Coordinator(daemon, open_store(bare), lease_ttl)
    daemon.coordinator = coordinator
    daemon.core.state = initial_state(daemon.mesh)
    async with coordinator.store:
        yield daemon, coordinator


async def test_a_round_prunes_the_votes_of_a_site_that_left(shared_url: str) -> None:
    async with coordination_of(shared_url) as coordination:
        await vote_as(coordination, "left", "p", down=True, fresh_for=0.01)
    async with replica(shared_url) as (daemon, coordinator):
        keep = 10 * coordinator.ttl  # 10x the vote's lifetime, at least a lease TTL

        async def old_enough() -> bool:
            return all(v.age > keep for v in await coordinator.coordination.votes())

        await until(old_enough, "the left site's vote older than it may be kept", within=60)
        await coordinator.round()
        left = by_site(await coordinator.coordination.votes(), "p")
        assert daemon.core.quorum is not None
        counted = daemon.core.quorum.votes.get("p", {})
    assert "left" not in left
    assert "left" not in counted


async def test_stop_returns_while_the_wake_up_event_is_set(shared_url: str) -> None:
    async with replica(shared_url, ttl=5.0) as (_, coordinator):
        rounds = asyncio.Event()

        async def quick_round() -> float:
            rounds.set()
            return 30.0  # then a long wait, which a set event ends

        coordinator.round = quick_round  # type: ignore[method-assign]
        task = asyncio.create_task(coordinator.run())
        await asyncio.wait_for(rounds.wait(), 30)
        for _ in range(3):
            await asyncio.sleep(0.01)  # it waits now
            rounds.clear()
            coordinator._wake.set()  # a fenced write wakes it up ...
            await asyncio.sleep(0)
            task.cancel()  # ... just as the daemon stops
            done, _ = await asyncio.wait({task}, timeout=10)
            if done:
                break
            await asyncio.wait_for(rounds.wait(), 30)
        assert task.done(), "the cancellation was swallowed: stop would hang"
        assert task.cancelled()


async def test_status_shows_each_sites_vote(
    shared_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with replica(shared_url, ttl=5.0) as (_, coordinator):
        await coordinator.round()  # it claims p and writes its row: status has a state
        async with coordination_of(shared_url) as coordination:
            await vote_as(coordination, "north", "p", down=True, fresh_for=60.0)
            await vote_as(coordination, "south", "p", down=False, fresh_for=0.01)

            async def south_stale() -> bool:
                return by_site(await coordination.votes(), "p")["south"].age > 0.05

            await until(south_stale, "the south vote no longer fresh", within=30)
        # The command runs its own event loop: in a thread of its own, as from a shell.
        code = await asyncio.to_thread(main, ["status", "--store", shared_url])
        text = capsys.readouterr().out
        json_code = await asyncio.to_thread(main, ["status", "--store", shared_url, "--json"])
        document = json.loads(capsys.readouterr().out)
    assert (code, json_code) == (0, 0)
    assert "VOTES" in text
    row = next(line for line in text.splitlines() if line.startswith("p "))
    assert "north=down(" in row
    assert "south=up(" in row
    assert ",stale)" in row.split("south=up(")[1]
    assert document["votes"]["p"]["north"]["down"] is True
    assert document["votes"]["p"]["south"]["fresh"] is False
