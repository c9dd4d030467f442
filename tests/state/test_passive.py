"""Passive evidence: the two accusation rules, one reported request at a time."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmesh_healthd.state import ModelState, Outcome, PolicyError, ProviderState
from modelmesh_healthd.state.passive import (
    Accusation,
    PassiveEvidence,
    PassivePolicy,
    add_usage,
)

OK, ERR, RATE = Outcome.OK, Outcome.SERVER_ERROR, Outcome.RATE_LIMITED
RULES = PassivePolicy(consecutive_failures=3, window=10.0, min_requests=4, failure_rate=0.5)


def play(outcomes: list[tuple[float, Outcome]], rules: PassivePolicy = RULES) -> list[str | None]:
    evidence = PassiveEvidence()
    out = []
    for at, outcome in outcomes:
        accusation = evidence.observe(outcome, at, at, passive=rules)
        out.append(None if accusation is None else accusation.rule)
    return out


@pytest.mark.parametrize(
    ("story", "expected"),
    [
        pytest.param(
            [(0, ERR), (1, ERR), (2, ERR)],
            [None, None, "consecutive_failures"],
            id="three failures in a row accuse",
        ),
        pytest.param(
            [(0, ERR), (1, ERR), (2, OK)],
            [None, None, None],
            id="a success breaks the run before it accuses",
        ),
        pytest.param(
            [(0, ERR), (1, OK), (2, ERR), (3, OK)],
            [None, None, None, "failure_rate"],
            id="half of four requests failed accuses on the rate rule",
        ),
        pytest.param(
            [(0, ERR), (1, OK), (2, ERR)],
            [None, None, None],
            id="too few requests in the window for the rate rule",
        ),
        pytest.param(
            [(0, ERR), (0.5, OK), (11, ERR), (12, OK)],
            [None, None, None, None],
            id="requests older than the window are forgotten",
        ),
        pytest.param(
            [(0, ERR), (1, RATE), (2, ERR), (3, RATE), (4, ERR)],
            [None, None, None, None, "consecutive_failures"],
            id="rate limits are neutral: they neither count nor break the run",
        ),
        pytest.param(
            [(0, Outcome.TIMEOUT), (1, Outcome.CONNECT_ERROR), (2, Outcome.AUTH_INVALID)],
            [None, None, "consecutive_failures"],
            id="timeouts, refused connections and fatal outcomes are all failures",
        ),
        pytest.param(
            [(0, ERR), (1, ERR), (2, ERR), (3, ERR), (4, ERR), (5, ERR)],
            [None, None, "consecutive_failures", None, None, None],
            id="evidence starts afresh and the cooldown holds a second accusation",
        ),
        pytest.param(
            [(0, ERR), (1, ERR), (2, ERR), (8, ERR), (9, ERR), (10, ERR)],
            [None, None, "consecutive_failures", None, None, "consecutive_failures"],
            id="after the cooldown a provider can be accused again",
        ),
    ],
)
def test_accusations_follow_the_rules(
    story: list[tuple[float, Outcome]], expected: list[str | None]
) -> None:
    assert play(story) == expected


def test_an_accusation_says_what_the_rule_counted() -> None:
    evidence = PassiveEvidence()
    accusation = None
    for at in range(3):
        accusation = evidence.observe(ERR, at, at, passive=RULES)
    assert accusation == Accusation("consecutive_failures", 3, 3)


def test_the_consecutive_rule_can_be_switched_off() -> None:
    rules = PassivePolicy(consecutive_failures=0, min_requests=10)
    assert play([(i, ERR) for i in range(9)], rules) == [None] * 9


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("consecutive_failures", -1),
        ("window", 0.0),
        ("min_requests", 0),
        ("failure_rate", 0.0),
        ("failure_rate", 1.5),
        ("cooldown", -1.0),
    ],
)
def test_contradictory_numbers_are_refused_by_name(field: str, value: float) -> None:
    with pytest.raises(PolicyError) as caught:
        PassivePolicy(**{field: value})
    assert caught.value.field == field


successes = st.sampled_from([Outcome.OK, Outcome.DEGRADED, Outcome.RATE_LIMITED])
any_outcome = st.sampled_from(list(Outcome))


@given(st.lists(successes, max_size=60))
def test_requests_that_never_fail_never_accuse(outcomes: list[Outcome]) -> None:
    assert play([(float(i), o) for i, o in enumerate(outcomes)]) == [None] * len(outcomes)


@given(st.lists(any_outcome, max_size=60))
def test_accusations_are_at_least_a_cooldown_apart(outcomes: list[Outcome]) -> None:
    verdicts = play([(float(i) * 0.5, o) for i, o in enumerate(outcomes)])
    times = [i * 0.5 for i, v in enumerate(verdicts) if v is not None]
    assert all(b - a >= RULES.cooldown for a, b in itertools.pairwise(times))


@given(st.lists(st.tuples(st.floats(0, 100), any_outcome), max_size=60))
def test_the_window_never_holds_a_request_older_than_the_window(
    story: list[tuple[float, Outcome]],
) -> None:
    evidence = PassiveEvidence()
    now = 0.0
    for at, outcome in story:
        now = max(now, at)
        evidence.observe(outcome, at, now, passive=RULES)
        assert all(now - t <= RULES.window for t, _ in evidence.recent)


@pytest.mark.parametrize(
    ("requests", "expected"),
    [
        ([], (0, 0.0, 0, 0, 0.0)),
        ([(100, 0.5)], (1, 0.5, 1, 100, 0.5)),
        ([(100, 0.5), (50, None)], (2, 0.5, 2, 150, 0.5)),
    ],
)
def test_served_requests_add_quota_tokens_and_known_cost(
    requests: list[tuple[int, float | None]], expected: tuple[int, float, int, int, float]
) -> None:
    provider, model = ProviderState(), ModelState()
    for tokens, cost in requests:
        add_usage(provider, model, tokens=tokens, cost=cost)
    got = (
        provider.total_quota_used,
        provider.total_cost,
        model.quota_used,
        model.tokens_used,
        model.cost_accumulated,
    )
    assert got == expected


def test_usage_of_a_model_the_daemon_does_not_know_still_counts_for_its_provider() -> None:
    provider = ProviderState()
    add_usage(provider, None, tokens=10, cost=0.25)
    assert (provider.total_quota_used, provider.total_cost) == (1, 0.25)
