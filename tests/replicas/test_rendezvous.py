"""Rendezvous hashing: every replica computes the same owner; a join or leave moves ~1/N."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmesh_healthd.daemon.coordination_votes import vantage_of
from modelmesh_healthd.storage.rendezvous import assign, owner_of, weight

SHARDS = [f"provider:p{i}" for i in range(3000)]


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ([], None),
        (["only"], "only"),
    ],
)
def test_the_owner_of_a_shard_among_zero_or_one_members(
    members: list[str], expected: str | None
) -> None:
    assert owner_of("provider:x", members) == expected


def test_the_owner_does_not_depend_on_the_order_of_the_members() -> None:
    members = ["a", "b", "c", "d"]
    owners = {owner_of(s, members) for s in SHARDS[:50]}
    for shard in SHARDS[:50]:
        assert owner_of(shard, members) == owner_of(shard, list(reversed(members)))
    assert owners <= set(members)


def test_weights_are_the_same_in_every_process() -> None:
    # A fixed value: Python's own str hash is salted per process and would break this.
    assert weight("replica-1", "provider:openai") == weight("replica-1", "provider:openai")
    assert weight("a", "b") != weight("b", "a")


@pytest.mark.parametrize("count", [2, 3, 4, 5, 8])
def test_shards_spread_evenly_over_the_members(count: int) -> None:
    members = [f"replica-{i}" for i in range(count)]
    owners = assign(SHARDS, members)
    shares = [sum(1 for o in owners.values() if o == m) for m in members]
    expected = len(SHARDS) / count
    assert all(abs(share - expected) < 0.15 * expected for share in shares)


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_a_joining_member_takes_only_shards_that_move_to_it(count: int) -> None:
    members = [f"replica-{i}" for i in range(count)]
    before = assign(SHARDS, members)
    after = assign(SHARDS, [*members, "newcomer"])
    moved = [s for s in SHARDS if before[s] != after[s]]
    assert all(after[s] == "newcomer" for s in moved)
    assert len(moved) <= len(SHARDS) / (count + 1) * 1.15


def test_assigning_with_no_members_assigns_nothing() -> None:
    assert assign(SHARDS[:3], []) == {}


names = st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(
    members=st.sets(names, min_size=1, max_size=6),
    newcomer=names,
    shards=st.sets(names, min_size=1, max_size=200),
)
def test_a_join_moves_shards_only_to_the_newcomer(
    members: set[str], newcomer: str, shards: set[str]
) -> None:
    before = assign(shards, members)
    after = assign(shards, members | {newcomer})
    assert all(after[s] == newcomer for s in shards if before[s] != after[s])


@settings(max_examples=60, deadline=None)
@given(
    members=st.sets(names, min_size=2, max_size=6),
    shards=st.sets(names, min_size=1, max_size=200),
    data=st.data(),
)
def test_a_leave_moves_only_the_leavers_shards(
    members: set[str], shards: set[str], data: st.DataObject
) -> None:
    leaver = data.draw(st.sampled_from(sorted(members)))
    before = assign(shards, members)
    after = assign(shards, members - {leaver})
    assert all(before[s] == leaver for s in shards if before[s] != after[s])


@settings(max_examples=30, deadline=None)
@given(count=st.integers(min_value=1, max_value=7), salt=names)
def test_a_join_moves_about_one_nth_of_many_shards(count: int, salt: str) -> None:
    shards = [f"{salt}:{i}" for i in range(2000)]
    members = [f"{salt}-m{i}" for i in range(count)]
    before = assign(shards, members)
    after = assign(shards, [*members, f"{salt}-new"])
    moved = sum(1 for s in shards if before[s] != after[s])
    share = len(shards) / (count + 1)
    assert moved <= share + 4 * (share**0.5) + 10


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.text("abcdef0123", min_size=1, max_size=6),
        st.sampled_from(["east", "west", "south"]),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(SHARDS[:200]),
)
def test_a_providers_writer_is_also_its_own_sites_prober(sites: dict[str, str], shard: str) -> None:
    # The quorum across sites relies on it: the writer (owner among all members) is the owner
    # among its own site's members, so it probes for its site and never doubles a probe there.
    members = [f"host:1:main#{tag}@{site}" for tag, site in sites.items()]
    writer = owner_of(shard, members)
    assert writer is not None
    site = writer.rpartition("@")[2]
    assert owner_of(shard, [m for m in members if m.endswith("@" + site)]) == writer


@pytest.mark.parametrize(
    ("member", "site"),
    [
        ("host:12:main#ab12cd@eu-west", "eu-west"),
        ("host:12:main#ab12cd", None),
        ("host:12:a@b#ab12cd", None),  # an instance name may hold an @: only the tail counts
        ("host:12:a@b#ab12cd@us", "us"),
    ],
)
def test_the_site_of_a_member_id(member: str, site: str | None) -> None:
    assert vantage_of(member) == site
