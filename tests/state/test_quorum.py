"""Quorum across sites: a provider goes down only when K sites agree (pure rule and step)."""

from __future__ import annotations

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
    QuorumPending,
    Vote,
    initial_state,
    observe,
    observe_vote,
    quorum_ruling,
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


def test_a_held_episode_ends_when_the_site_sees_the_provider_answer_again() -> None:
    core = site_core(2)
    now, _ = fail_until_held_or_down(core)
    observe(core, "x", Observation(Outcome.OK), now + 1)
    assert core.quorum is not None
    assert "x" not in core.quorum.pending
    _, names = fail_until_held_or_down(core, now + 2)
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
