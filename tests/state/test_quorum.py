"""Quorum across sites: a provider goes down only when K sites agree (pure rule and step)."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmesh_healthd.state import (
    DEFAULT_POLICY,
    ConnectivityGuard,
    HealthCore,
    Mesh,
    Observation,
    Outcome,
    Phase,
    ProviderDown,
    Quorum,
    QuorumDecided,
    QuorumPending,
    Tally,
    Vote,
    initial_state,
    observe,
    observe_quorum,
    observe_vote,
    quorum_ruling,
    quorum_tally,
)

NOW = 100.0


def vote(site: str, *, down: bool, until: float = math.inf) -> Vote:
    return Vote(site, down, since=0.0, at=0.0, until=until)


# (other sites' votes, K, live sites) -> (hold, agreeing, needed)
RULINGS = {
    "K=1: the asking site alone decides": ([], 1, {"a", "b"}, (False, ("a",), 1)),
    "K=2, the other live site has not voted: held": ([], 2, {"a", "b"}, (True, ("a",), 2)),
    "K=2, the other site votes up: held": (
        [vote("b", down=False)],
        2,
        {"a", "b"},
        (True, ("a",), 2),
    ),
    "K=2, the other site votes down: applied": (
        [vote("b", down=True)],
        2,
        {"a", "b"},
        (False, ("a", "b"), 2),
    ),
    "a stale down vote does not count": (
        [vote("b", down=True, until=NOW - 0.1)],
        2,
        {"a", "b"},
        (True, ("a",), 2),
    ),
    "a vote fresh until exactly now still counts": (
        [vote("b", down=True, until=NOW)],
        2,
        {"a", "b"},
        (False, ("a", "b"), 2),
    ),
    "K is capped by the live sites: a lone site decides": ([], 2, {"a"}, (False, ("a",), 1)),
    "a stale vote of a site no longer live neither counts nor holds": (
        [vote("b", down=False, until=NOW - 1)],
        2,
        set(),
        (False, ("a",), 1),
    ),
    "a fresh vote makes its site live although its replicas expired": (
        [vote("b", down=False)],
        2,
        set(),
        (True, ("a",), 2),
    ),
    "K=2 of three: any second site is enough": (
        [vote("b", down=False), vote("c", down=True)],
        2,
        {"a", "b", "c"},
        (False, ("a", "c"), 2),
    ),
    "K=3 of three, one disagrees: held": (
        [vote("b", down=False), vote("c", down=True)],
        3,
        {"a", "b", "c"},
        (True, ("a", "c"), 3),
    ),
    "the asking site's stored vote is not counted twice": (
        [vote("a", down=True)],
        2,
        {"a", "b"},
        (True, ("a",), 2),
    ),
}


@pytest.mark.parametrize(("votes", "k", "live", "expected"), RULINGS.values(), ids=list(RULINGS))
def test_the_quorum_rules_on_a_down_transition(
    votes: list[Vote], k: int, live: set[str], expected: tuple[bool, tuple[str, ...], int]
) -> None:
    ruling = quorum_ruling({v.vantage: v for v in votes}, own="a", quorum=k, live=live, now=NOW)
    assert (ruling.hold, ruling.agreeing, ruling.needed) == expected


# --- the step -------------------------------------------------------------------------


def site_core(k: int, *, vantage: str = "a", live: frozenset[str] = frozenset("ab")) -> HealthCore:
    mesh = Mesh.build(["x", "y"], {"x.m": "x", "y.m": "y"}, {"chat": ["x.m", "y.m"]})
    core = HealthCore(
        mesh, initial_state(mesh), DEFAULT_POLICY, ConnectivityGuard(enabled=False), fleet=2
    )
    core.quorum = Quorum(vantage, k, live=live)
    return core


def fail_until_held_or_down(core: HealthCore, start: float = 0.0) -> tuple[float, list[str]]:
    """Server errors for `x` until a step holds or takes it down; the time and event names."""
    names: list[str] = []
    now = start
    for i in range(50):
        now = start + i
        step = observe(core, "x", Observation(Outcome.SERVER_ERROR), now)
        names += [e.name for e in step.events]
        if step.hold or not core.state.providers["x"].available:
            return now, names
    raise AssertionError("never held nor down")


def test_one_site_seeing_a_provider_down_holds_it_up_and_says_so_once() -> None:
    core = site_core(2)
    now, names = fail_until_held_or_down(core)
    step = observe(core, "x", Observation(Outcome.SERVER_ERROR), now + 1)
    assert core.state.providers["x"].available
    assert core.state.models["x.m"].is_active
    assert names.count("provider.quorum_pending") == 1
    assert "provider.quorum_pending" not in [e.name for e in step.events]
    assert (step.hold, step.phase) == (True, Phase.DOWN)
    assert step.vote is not None
    assert step.vote.down


def test_the_pending_event_names_the_agreeing_sites_and_what_is_needed() -> None:
    core = site_core(3, live=frozenset("abc"))
    assert core.quorum is not None
    core.quorum.votes["x"] = {"c": vote("c", down=True)}
    events: list[object] = []
    for i in range(20):
        events += observe(core, "x", Observation(Outcome.SERVER_ERROR), float(i)).events
    pending = [e for e in events if isinstance(e, QuorumPending)]
    assert pending == [QuorumPending("x", "server_error", ("a", "c"), 3, ("a", "b", "c"))]
    assert core.state.providers["x"].available


def test_the_provider_goes_down_once_enough_sites_vote_down() -> None:
    core = site_core(2)
    now, _ = fail_until_held_or_down(core)
    assert core.quorum is not None
    core.quorum.votes["x"] = {"b": vote("b", down=True, until=now + 10)}
    step = observe(core, "x", Observation(Outcome.SERVER_ERROR), now + 1)
    assert not core.state.providers["x"].available
    assert not core.state.models["x.m"].is_active
    assert "provider.down" in [e.name for e in step.events]
    assert "x" not in core.quorum.pending


def test_a_down_vote_that_went_stale_no_longer_takes_the_provider_down() -> None:
    core = site_core(2)
    now, _ = fail_until_held_or_down(core)
    assert core.quorum is not None
    core.quorum.votes["x"] = {"b": vote("b", down=True, until=now + 0.5)}
    step = observe(core, "x", Observation(Outcome.SERVER_ERROR), now + 1)
    assert step.hold
    assert core.state.providers["x"].available


def test_with_quorum_one_a_site_takes_a_provider_down_alone() -> None:
    core = site_core(1)
    _, names = fail_until_held_or_down(core)
    assert "provider.down" in names
    assert "provider.quorum_pending" not in names


def test_recovery_is_the_writers_site_alone_even_when_others_still_vote_down() -> None:
    core = site_core(2)
    now, _ = fail_until_held_or_down(core)
    assert core.quorum is not None
    core.quorum.votes["x"] = {"b": vote("b", down=True)}
    observe(core, "x", Observation(Outcome.SERVER_ERROR), now + 1)
    assert not core.state.providers["x"].available
    for i in range(2, 40):
        observe(core, "x", Observation(Outcome.OK), now + i)
    assert core.state.providers["x"].available


def test_a_held_episode_ends_when_the_sites_own_view_comes_back_up() -> None:
    core = site_core(2)
    now, _ = fail_until_held_or_down(core)
    assert core.quorum is not None
    observe(core, "x", Observation(Outcome.OK), now + 1)
    assert "x" in core.quorum.pending  # one answer: its view (hysteresis) still sees it down
    for i in range(2, 40):
        observe(core, "x", Observation(Outcome.OK), now + i)
    assert "x" not in core.quorum.pending
    _, names = fail_until_held_or_down(core, now + 40)
    assert names.count("provider.quorum_pending") == 1


def test_a_voter_changes_only_its_own_view_never_the_shared_state() -> None:
    core = site_core(2, vantage="b")
    votes = [
        observe_vote(core, "x", Observation(Outcome.SERVER_ERROR), float(i)) for i in range(20)
    ]
    assert core.state.providers["x"].available
    assert core.state.providers["x"].last_probe is None
    assert votes[-1].vote is not None
    assert votes[-1].vote.down
    assert votes[-1].vote.vantage == "b"
    assert votes[-1].phase is Phase.DOWN
    assert all(not step.events for step in votes)


def test_a_voters_view_starts_from_the_shared_state() -> None:
    core = site_core(2, vantage="b")
    core.state.providers["x"].available = False
    core.state.providers["x"].availability_score = 0.1
    step = observe_vote(core, "x", Observation(Outcome.OK), 1.0)
    assert step.vote is not None
    assert step.vote.down


def test_a_voters_unproven_network_failure_does_not_turn_its_vote() -> None:
    core = site_core(2, vantage="b")
    core.guard = ConnectivityGuard(enabled=True, min_providers=1)
    steps = [observe_vote(core, "x", Observation(Outcome.TIMEOUT), float(i)) for i in range(20)]
    assert all(s.vote is None or not s.vote.down for s in steps)
    assert steps[-1].hold


def test_observe_vote_needs_a_quorum() -> None:
    core = site_core(2)
    core.quorum = None
    with pytest.raises(ValueError, match="quorum"):
        observe_vote(core, "x", Observation(Outcome.OK), 1.0)


# --- the property ---------------------------------------------------------------------

SITES = ("a", "b", "c", "d")
votes_strategy = st.dictionaries(
    st.sampled_from(SITES[1:]),
    st.tuples(st.booleans(), st.floats(0, 40)),  # down, fresh until
)
results = st.lists(
    st.tuples(
        st.sampled_from([Outcome.OK, Outcome.SERVER_ERROR, Outcome.AUTH_INVALID]),
        votes_strategy,
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(results, st.integers(1, 4), st.sets(st.sampled_from(SITES[1:])))
def test_never_down_with_fewer_than_k_fresh_agreeing_live_votes(
    steps: list[tuple[Outcome, dict[str, tuple[bool, float]]]], k: int, live: set[str]
) -> None:
    core = site_core(k, live=frozenset(live))
    assert core.quorum is not None
    for i, (outcome, raw) in enumerate(steps):
        now = float(i)
        core.quorum.votes["x"] = {
            s: Vote(s, down, 0.0, 0.0, until=until) for s, (down, until) in raw.items()
        }
        step = observe(core, "x", Observation(outcome), now)
        if any(isinstance(e, ProviderDown) for e in step.events):
            fresh = {s: d for s, (d, until) in raw.items() if now <= until}
            agreeing = 1 + sum(fresh.values())
            in_play = len({"a"} | live | set(fresh))
            assert agreeing >= min(k, in_play)
            if len(live) + 1 >= k:
                assert agreeing >= k  # all K sites alive: K must agree, never fewer


# --- the tally: the shared state follows K sites' votes ---------------------------------

# (stored votes as site -> down, live sites, K, own view down) -> (down, up, silent, needed)
TALLIES = {
    "two others down, own up: K of three agree": (
        {"b": True, "c": True},
        {"a", "b", "c"},
        2,
        False,
        (("b", "c"), ("a",), (), 2),
    ),
    "own down alone of three": (
        {"b": False, "c": False},
        {"a", "b", "c"},
        2,
        True,
        (("a",), ("b", "c"), (), 2),
    ),
    "a live site without a vote is silent": (
        {"b": True},
        {"a", "b", "c"},
        2,
        False,
        (("b",), ("a",), ("c",), 2),
    ),
    "the own site's stored vote gives way to its current view": (
        {"a": True},
        {"a", "b"},
        2,
        False,
        ((), ("a",), ("b",), 2),
    ),
    "K capped by the sites in play": ({}, set(), 3, True, (("a",), (), (), 1)),
}


@pytest.mark.parametrize(
    ("stored", "live", "k", "own_down", "expected"), TALLIES.values(), ids=list(TALLIES)
)
def test_the_tally_counts_every_sites_vote_the_writers_own_as_one(
    stored: dict[str, bool],
    live: set[str],
    k: int,
    own_down: bool,
    expected: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], int],
) -> None:
    votes = {s: vote(s, down=d) for s, d in stored.items()}
    tally = quorum_tally(votes, own=vote("a", down=own_down), quorum=k, live=live, now=NOW)
    assert (tally.down, tally.up, tally.silent, tally.needed) == expected


# (down, silent, needed, healthy now) -> healthy after
VERDICTS = {
    "up, too few down: stays up": (1, 0, 2, True, True),
    "up, K down: goes down": (2, 0, 2, True, False),
    "up, one down one silent: stays up (silence takes nothing down)": (1, 1, 2, True, True),
    "down, one down of K=2: comes back": (1, 0, 2, False, True),
    "down, one down one silent: stays down (silence brings nothing back)": (1, 1, 2, False, False),
    "down, none down: comes back": (0, 0, 2, False, True),
    "down, still K down: stays down": (2, 0, 2, False, False),
}


@pytest.mark.parametrize(
    ("down", "silent", "needed", "now_healthy", "expected"),
    VERDICTS.values(),
    ids=list(VERDICTS),
)
def test_the_tally_calls_for_a_state_and_silence_keeps_the_current_one(
    down: int, silent: int, needed: int, now_healthy: bool, expected: bool
) -> None:
    tally = Tally(
        tuple(f"d{i}" for i in range(down)), (), tuple(f"s{i}" for i in range(silent)), needed
    )
    assert tally.healthy(now_healthy) is expected


def three_sites(k: int = 2) -> HealthCore:
    return site_core(k, live=frozenset("abc"))


def test_two_other_sites_take_a_provider_down_while_the_writers_site_sees_it_up() -> None:
    core = three_sites()
    assert core.quorum is not None
    core.quorum.votes["x"] = {
        "b": Vote("b", True, 0.0, 0.0, outcome="auth_invalid"),
        "c": Vote("c", True, 0.0, 0.0, outcome="auth_invalid"),
    }
    step = observe(core, "x", Observation(Outcome.OK), NOW)
    x = core.state.providers["x"]
    assert not x.available
    assert x.down_reason == "auth_failure"
    assert not core.state.models["x.m"].is_active
    assert "x.m" in core.state.pools["chat"].standby_models
    assert step.vote is not None
    assert not step.vote.down
    decided = [e for e in step.events if isinstance(e, QuorumDecided)]
    assert decided == [QuorumDecided("x", "down", ("b", "c"), 2, ("a", "b", "c"))]
    assert [e.name for e in step.events].count("provider.down") == 1


def test_a_round_alone_takes_a_provider_down_when_k_sites_vote_down() -> None:
    core = three_sites()
    assert core.quorum is not None
    core.quorum.votes["x"] = {"b": vote("b", down=True), "c": vote("c", down=True)}
    step = observe_quorum(core, "x", NOW)
    assert not core.state.providers["x"].available
    assert "provider.down" in [e.name for e in step.events]
    assert observe_quorum(core, "x", NOW + 1).events == []  # decided once


def test_the_writers_site_alone_seeing_it_down_keeps_it_up() -> None:
    core = three_sites()
    assert core.quorum is not None
    core.quorum.votes["x"] = {"b": vote("b", down=False), "c": vote("c", down=False)}
    _, names = fail_until_held_or_down(core)
    for i in range(30):
        observe(core, "x", Observation(Outcome.SERVER_ERROR), 50.0 + i)
    assert core.state.providers["x"].available
    assert "provider.down" not in names
    assert observe_quorum(core, "x", 90.0).events == []


def test_the_provider_recovers_when_the_others_see_it_up_though_the_writers_site_does_not() -> None:
    core = three_sites()
    assert core.quorum is not None
    core.quorum.votes["x"] = {"b": vote("b", down=True), "c": vote("c", down=True)}
    fail_until_held_or_down(core)
    assert not core.state.providers["x"].available
    for i in range(5):
        observe(core, "x", Observation(Outcome.SERVER_ERROR), 60.0 + i)
    core.quorum.votes["x"] = {"b": vote("b", down=False), "c": vote("c", down=False)}
    step = observe_quorum(core, "x", 70.0)
    x = core.state.providers["x"]
    assert x.is_healthy(DEFAULT_POLICY)
    assert core.state.models["x.m"].is_active
    names = [e.name for e in step.events]
    assert names.count("provider.up") == 1
    assert "provider.quorum_decided" in names
    # the writer's site still sees it down: its failures no longer take it down alone
    for i in range(10):
        observe(core, "x", Observation(Outcome.SERVER_ERROR), 71.0 + i)
    assert core.state.providers["x"].available


def test_a_silent_live_site_keeps_a_down_provider_down() -> None:
    core = three_sites()
    assert core.quorum is not None
    core.quorum.votes["x"] = {"b": vote("b", down=True), "c": vote("c", down=True)}
    observe_quorum(core, "x", NOW)
    core.quorum.votes["x"] = {"b": vote("b", down=True)}  # c has not voted (a restart)
    assert observe_quorum(core, "x", NOW + 1).events == []
    assert not core.state.providers["x"].available


def test_a_pool_empties_and_is_restored_once_when_the_sites_decide() -> None:
    mesh = Mesh.build(["x"], {"x.m": "x"}, {"solo": ["x.m"]})
    core = HealthCore(
        mesh, initial_state(mesh), DEFAULT_POLICY, ConnectivityGuard(enabled=False), fleet=1
    )
    core.quorum = Quorum("a", 2, live=frozenset("abc"))
    names = [e.name for e in observe(core, "x", Observation(Outcome.OK), NOW - 1).events]
    core.quorum.votes["x"] = {"b": vote("b", down=True), "c": vote("c", down=True)}
    names += [e.name for e in observe_quorum(core, "x", NOW).events]
    names += [e.name for e in observe(core, "x", Observation(Outcome.OK), NOW + 1).events]
    core.quorum.votes["x"] = {"b": vote("b", down=False), "c": vote("c", down=True)}
    names += [e.name for e in observe_quorum(core, "x", NOW + 2).events]
    names += [e.name for e in observe_quorum(core, "x", NOW + 3).events]
    assert names.count("pool.empty") == 1
    assert names.count("pool.restored") == 1
    assert names.index("pool.empty") < names.index("pool.restored")
    assert core.state.pools["solo"].active_models == {"x.m"}
    assert core.state.providers["x"].active_model_count == 1


# --- the property: the shared state follows the votes, for any vote sets ------------------

moves = st.lists(
    st.tuples(
        st.sampled_from([None, Outcome.OK, Outcome.SERVER_ERROR, Outcome.AUTH_INVALID]),
        st.dictionaries(st.sampled_from(SITES[1:]), st.booleans()),
        st.sets(st.sampled_from(SITES[1:])),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(moves, st.integers(1, 4))
def test_the_shared_state_is_down_iff_enough_sites_vote_down(
    steps: list[tuple[Outcome | None, dict[str, bool], set[str]]], k: int
) -> None:
    """After every step (a writer's probe, None: a round), the provider is down iff at least
    min(K, sites in play) sites vote down, the writer's own view being one vote; a live site
    that has not voted keeps the state as it is; its models follow it; pool events alternate."""
    core = site_core(k, live=frozenset())
    assert core.quorum is not None
    pool_events: list[str] = []
    for i, (outcome, stored, live) in enumerate(steps):
        now = float(i)
        core.quorum.live = frozenset(live)
        core.quorum.votes["x"] = {s: vote(s, down=d) for s, d in stored.items()}
        if outcome is None:
            step = observe_quorum(core, "x", now)
        else:
            step = observe(core, "x", Observation(outcome), now)
        pool_events += [e.name for e in step.events if e.name.startswith("pool.")]
        own = core.quorum.sites.get("x")  # none until its first probe: "a" is silent
        own_down = own is not None and not own.is_healthy(DEFAULT_POLICY)
        down_votes = sum(stored.values()) + own_down
        silent = len(live - set(stored)) + (own is None)
        needed = max(1, min(k, len(live | set(stored) | {"a"})))
        healthy = core.state.providers["x"].is_healthy(DEFAULT_POLICY)
        if healthy:
            assert down_votes < needed
        else:
            assert down_votes + silent >= needed
        if not silent:
            assert healthy is (down_votes < needed)
        assert core.state.models["x.m"].is_active is healthy
        assert core.state.providers["x"].active_model_count == int(healthy)
    assert all(a != b for a, b in itertools.pairwise(pool_events))


# (down-voting sites' last outcomes) -> the reason the shared state goes down with
REASONS = {
    "the most common failing outcome": (
        {"b": "auth_invalid", "c": "quota_exhausted", "d": "quota_exhausted"},
        "quota_exhausted",
    ),
    "a tie goes to the first site by name": (
        {"b": "quota_exhausted", "c": "auth_invalid"},
        "quota_exhausted",
    ),
    "a success (a view still down on the way back) gives no reason": (
        {"b": "ok", "c": "auth_invalid"},
        "auth_failure",
    ),
    "no failing outcome known: unavailable": ({"b": "ok", "c": "no-such"}, "provider_unavailable"),
}


@pytest.mark.parametrize(("outcomes", "reason"), REASONS.values(), ids=list(REASONS))
def test_the_sites_take_a_provider_down_with_the_reason_their_outcomes_give(
    outcomes: dict[str, str], reason: str
) -> None:
    core = site_core(2, live=frozenset("abcd"))
    assert core.quorum is not None
    core.quorum.votes["x"] = {s: Vote(s, True, 0.0, 0.0, outcome=o) for s, o in outcomes.items()}
    observe_quorum(core, "x", NOW)
    assert core.state.providers["x"].down_reason == reason
    assert core.state.models["x.m"].deactivation_reason == reason
