"""The store itself enforces leases and fencing tokens (real Redis, real PostgreSQL)."""

from __future__ import annotations

import asyncio

from replica_support import coordination_of
from structlog.testing import capture_logs

from modelmesh_healthd.state import SystemState
from modelmesh_healthd.state.mesh import Mesh
from modelmesh_healthd.state.provider import ProviderState
from modelmesh_healthd.storage import Envelope, open_store, read_state
from modelmesh_healthd.storage.base import Row
from modelmesh_healthd.storage.coordination import (
    ShardRows,
    VoteWrite,
    provider_shard,
    vote_shard,
)
from modelmesh_healthd.storage.fenced import FencedStore
from modelmesh_healthd.storage.row_encode import make_batch, row_for

TTL = 0.5
"""For leases a test lets expire (it sleeps past it)."""
HELD = 30.0
"""For leases a test needs still held a moment later, however busy the host."""
SHARD = provider_shard("p1")


def provider_row(score: float) -> Row:
    state = SystemState()
    state.providers["p1"] = ProviderState(availability_score=score)
    return row_for(state, Mesh.build(["p1"], {}), "provider", "p1")


def meta(epoch: int) -> tuple[str, str, int]:
    batch = make_batch(Envelope(1, 1.0, "test", epoch, 1.0), [], replace=False)
    return batch.meta_data, batch.meta_checksum, epoch


async def stored_score(url: str) -> float | None:
    state = await read_state(url)
    if state is None or "p1" not in state.providers:
        return None
    return state.providers["p1"].availability_score


async def test_a_free_shard_is_granted_and_a_held_one_makes_the_other_member_wait(
    shared_url: str,
) -> None:
    async with coordination_of(shared_url) as a, coordination_of(shared_url) as b:
        first = await a.claim("a", [SHARD], HELD)
        second = await b.claim("b", [SHARD], HELD)
    assert SHARD in first.granted
    assert SHARD not in second.granted
    assert 0.0 <= second.waiting[SHARD] <= HELD


async def test_claiming_a_held_shard_again_keeps_its_token(shared_url: str) -> None:
    async with coordination_of(shared_url) as a:
        first = await a.claim("a", [SHARD], HELD)
        again = await a.claim("a", [SHARD], HELD)
    assert again.granted[SHARD] == first.granted[SHARD]


async def test_a_takeover_after_expiry_gets_a_larger_token(shared_url: str) -> None:
    async with coordination_of(shared_url) as a, coordination_of(shared_url) as b:
        first = await a.claim("a", [SHARD], TTL)
        await asyncio.sleep(TTL + 0.2)
        second = await b.claim("b", [SHARD], TTL)
    assert second.granted[SHARD] > first.granted[SHARD]


async def test_the_store_refuses_a_write_under_a_stale_token(shared_url: str) -> None:
    async with coordination_of(shared_url) as a, coordination_of(shared_url) as b:
        old = (await a.claim("a", [SHARD], TTL)).granted[SHARD]
        assert not await a.fenced_write("a", [ShardRows(SHARD, old, [provider_row(0.1)])], meta(1))
        await asyncio.sleep(TTL + 0.2)  # a is paused past its lease
        new = (await b.claim("b", [SHARD], TTL)).granted[SHARD]
        assert not await b.fenced_write("b", [ShardRows(SHARD, new, [provider_row(0.5)])], meta(2))
        refused = await a.fenced_write("a", [ShardRows(SHARD, old, [provider_row(0.9)])], meta(3))
    assert refused == {SHARD}
    assert await stored_score(shared_url) == 0.5


async def test_a_write_under_the_current_token_of_another_member_is_refused(
    shared_url: str,
) -> None:
    async with coordination_of(shared_url) as a:
        token = (await a.claim("a", [SHARD], TTL)).granted[SHARD]
        refused = await a.fenced_write("b", [ShardRows(SHARD, token, [provider_row(0.9)])], None)
    assert refused == {SHARD}
    assert await stored_score(shared_url) is None


async def test_renewing_under_a_stale_token_fails(shared_url: str) -> None:
    async with coordination_of(shared_url) as a, coordination_of(shared_url) as b:
        old = (await a.claim("a", [SHARD], TTL)).granted[SHARD]
        await asyncio.sleep(TTL + 0.2)
        await b.claim("b", [SHARD], TTL)
        renewed = await a.renew("a", {SHARD: old}, TTL)
    assert renewed == set()


async def test_renewing_a_held_lease_keeps_it_past_its_first_ttl(shared_url: str) -> None:
    async with coordination_of(shared_url) as a, coordination_of(shared_url) as b:
        ttl = 3.0  # renewed every second: two seconds to spare on a busy host
        token = (await a.claim("a", [SHARD], ttl)).granted[SHARD]
        for _ in range(4):
            await asyncio.sleep(1.0)
            assert await a.renew("a", {SHARD: token}, ttl) == {SHARD}
        late = await b.claim("b", [SHARD], ttl)
    assert SHARD not in late.granted


async def test_heartbeats_list_the_live_members_and_drop_expired_ones(shared_url: str) -> None:
    async with coordination_of(shared_url) as a, coordination_of(shared_url) as b:
        await a.heartbeat("a", 2.0)
        both = await b.heartbeat("b", HELD)
        await asyncio.sleep(2.2)
        later = await b.heartbeat("b", HELD)
    assert set(both.members) == {"a", "b"}
    assert set(later.members) == {"b"}


async def test_leaving_hands_the_leases_over_at_once(shared_url: str) -> None:
    async with coordination_of(shared_url) as a, coordination_of(shared_url) as b:
        await a.heartbeat("a", 30.0)
        await a.claim("a", [SHARD], 30.0)
        await a.leave("a")
        taken = await b.claim("b", [SHARD], 30.0)
        members = await b.heartbeat("b", 30.0)
    assert SHARD in taken.granted
    assert set(members.members) == {"b"}


async def test_owners_name_the_holder_of_each_unexpired_lease(shared_url: str) -> None:
    async with coordination_of(shared_url) as a:
        await a.claim("a", [SHARD, provider_shard("p2")], 30.0)
        owners = await a.owners()
    assert owners == {SHARD: "a", provider_shard("p2"): "a"}


async def test_the_meta_row_keeps_the_newest_epoch_when_writes_arrive_out_of_order(
    shared_url: str,
) -> None:
    async with coordination_of(shared_url) as a:
        token = (await a.claim("a", [SHARD], TTL)).granted[SHARD]
        await a.fenced_write("a", [ShardRows(SHARD, token, [provider_row(0.1)])], meta(7))
        await a.fenced_write("a", [ShardRows(SHARD, token, [provider_row(0.2)])], meta(5))
    store = open_store(shared_url)
    async with store:
        loaded = await store.load(repair=False)
    assert loaded.epoch == 7
    assert await stored_score(shared_url) == 0.2


async def test_a_fenced_store_logs_and_counts_a_refused_shard_and_drops_its_lease(
    shared_url: str,
) -> None:
    refused: list[set[str]] = []
    async with coordination_of(shared_url) as a, coordination_of(shared_url) as b:
        inner = open_store(shared_url)
        fenced = FencedStore(inner, a, "a", on_fenced=refused.append)
        async with fenced:
            token = (await a.claim("a", [SHARD], TTL)).granted[SHARD]
            fenced.leases.grant(SHARD, token, float("inf"))  # a replica that missed its expiry
            await asyncio.sleep(TTL + 0.2)
            await b.claim("b", [SHARD], TTL)
            batch = make_batch(Envelope(1, 1.0, "a", 1, 1.0), [provider_row(0.9)], replace=False)
            with capture_logs() as logs:
                await fenced.write(batch)
    assert [e["event"] for e in logs] == ["store.write_fenced"]
    assert fenced.fenced_writes == 1
    assert refused == [{SHARD}]
    assert not fenced.leases.owns(SHARD)
    assert await stored_score(shared_url) is None


VOTE = vote_shard("p1", "east")


async def test_a_vote_under_the_held_token_is_stored_with_its_age_by_the_stores_clock(
    shared_url: str,
) -> None:
    async with coordination_of(shared_url) as a:
        token = (await a.claim("a", [VOTE], 30.0)).granted[VOTE]
        refused = await a.write_votes("a", [VoteWrite(token, "p1", "east", '{"down": true}')])
        await asyncio.sleep(0.3)
        votes = await a.votes()
    assert refused == set()
    assert [(v.provider, v.vantage, v.data) for v in votes] == [("p1", "east", '{"down": true}')]
    assert 0.25 <= votes[0].age < 30.0


async def test_the_store_refuses_a_vote_under_a_stale_token(shared_url: str) -> None:
    async with coordination_of(shared_url) as a, coordination_of(shared_url) as b:
        old = (await a.claim("a", [VOTE], TTL)).granted[VOTE]
        await asyncio.sleep(TTL + 0.2)  # a is paused past its lease
        new = (await b.claim("b", [VOTE], TTL)).granted[VOTE]
        assert not await b.write_votes("b", [VoteWrite(new, "p1", "east", '{"down": false}')])
        refused = await a.write_votes("a", [VoteWrite(old, "p1", "east", '{"down": true}')])
        votes = await b.votes()
    assert refused == {VOTE}
    assert [v.data for v in votes] == ['{"down": false}']


async def test_votes_of_two_sites_on_one_provider_are_kept_apart(shared_url: str) -> None:
    west = vote_shard("p1", "west")
    async with coordination_of(shared_url) as a:
        tokens = (await a.claim("a", [VOTE, west], 30.0)).granted
        await a.write_votes(
            "a",
            [
                VoteWrite(tokens[VOTE], "p1", "east", "1"),
                VoteWrite(tokens[west], "p1", "west", "2"),
            ],
        )
        votes = await a.votes()
    assert sorted((v.vantage, v.data) for v in votes) == [("east", "1"), ("west", "2")]
