"""The canary's daily spend: reserve the worst case, settle the real cost, survive restarts.

Pure: the spend is a provider's own state, so "a restart" is the state read back from what was
last stored (`to_dict` -> `from_dict`), as every store does."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmesh_healthd.state import ProviderState
from modelmesh_healthd.state.spend import (
    Budget,
    DaySpend,
    Reservation,
    carry_spend,
    day_of,
    release,
    reserve,
    settle,
    spend_today,
)

DAY = 86_400
NOW = 20_000 * DAY + 3_600.0  # 01:00 UTC on day 20000
TODAY = 20_000


def at(usd: float, tokens: int, *, day: int = TODAY, exhausted: bool = False) -> ProviderState:
    return ProviderState(
        canary_day=day, canary_usd=usd, canary_tokens=tokens, canary_exhausted=exhausted
    )


@pytest.mark.parametrize(
    ("spent", "worst", "budget", "fits"),
    [
        ((0.0, 0), (0.006, 100), Budget(0.01, 10_000), True),
        ((0.006, 100), (0.006, 100), Budget(0.01, 10_000), False),  # USD binds
        ((0.006, 100), (0.004, 100), Budget(0.01, 10_000), True),  # exactly the budget
        ((0.0, 900), (0.0, 200), Budget(1.0, 1_000), False),  # tokens bind
        ((0.0, 0), (0.0, 0), Budget(0.0, 0), True),  # a free canary fits a zero budget
        ((0.0, 0), (1e-9, 1), Budget(0.0, 0), False),
    ],
)
def test_a_worst_case_is_reserved_only_if_it_fits_in_what_is_left(
    spent: tuple[float, int], worst: tuple[float, int], budget: Budget, fits: bool
) -> None:
    ps = at(*spent)
    held = reserve(ps, budget, *worst, NOW)
    assert (held is not None) is fits
    if fits:
        assert (ps.canary_usd, ps.canary_tokens) == pytest.approx(
            (spent[0] + worst[0], spent[1] + worst[1])
        )
        assert not ps.canary_exhausted
    else:
        assert (ps.canary_usd, ps.canary_tokens) == spent
        assert ps.canary_exhausted


@pytest.mark.parametrize(
    ("before", "now", "after"),
    [
        (ProviderState(), NOW, DaySpend(TODAY)),
        (at(0.5, 10, exhausted=True), NOW, DaySpend(TODAY, 0.5, 10, True)),
        (at(0.5, 10, day=TODAY - 1, exhausted=True), NOW, DaySpend(TODAY)),  # yesterday's
        (at(0.5, 10, day=TODAY - 30), NOW, DaySpend(TODAY)),
        (at(0.5, 10), (TODAY + 1) * DAY, DaySpend(TODAY + 1)),  # midnight UTC
    ],
)
def test_todays_spend_reads_zero_once_its_day_is_over(
    before: ProviderState, now: float, after: DaySpend
) -> None:
    assert spend_today(before, now) == after


def test_a_reservation_on_a_new_day_prunes_the_old_record() -> None:
    ps = at(0.01, 500, day=TODAY - 1, exhausted=True)
    held = reserve(ps, Budget(0.01, 1_000), 0.002, 80, NOW)
    assert held == Reservation(TODAY, 0.002, 80)
    assert (ps.canary_day, ps.canary_usd, ps.canary_tokens, ps.canary_exhausted) == (
        TODAY,
        0.002,
        80,
        False,
    )


@pytest.mark.parametrize(
    ("real", "after"),
    [
        ((0.001, 20), (0.001, 20)),  # cheaper than the worst case
        ((0.004, 80), (0.004, 80)),  # the whole worst case
        ((0.0, 0), (0.0, 0)),
        ((0.005, 90), (0.005, 90)),  # over the cap: still counted, the record stays true
    ],
)
def test_settling_replaces_the_worst_case_with_the_real_cost(
    real: tuple[float, int], after: tuple[float, int]
) -> None:
    ps = ProviderState()
    held = reserve(ps, Budget(1.0, 1_000), 0.004, 80, NOW)
    assert held is not None
    settle(ps, held, *real)
    assert (ps.canary_usd, ps.canary_tokens) == pytest.approx(after)


def test_a_settlement_after_midnight_does_not_touch_the_new_day() -> None:
    ps = ProviderState()
    held = reserve(ps, Budget(1.0, 1_000), 0.004, 80, NOW)
    assert held is not None
    tomorrow = (TODAY + 1) * DAY
    assert reserve(ps, Budget(1.0, 1_000), 0.001, 10, tomorrow) is not None
    settle(ps, held, 0.0, 0)
    assert (ps.canary_day, ps.canary_usd, ps.canary_tokens) == (TODAY + 1, 0.001, 10)


def test_a_released_reservation_is_given_back_whole() -> None:
    ps = at(0.003, 30)
    held = reserve(ps, Budget(1.0, 1_000), 0.004, 80, NOW)
    assert held is not None
    release(ps, held)
    assert (ps.canary_usd, ps.canary_tokens) == pytest.approx((0.003, 30))


@pytest.mark.parametrize(
    ("into", "other", "after"),
    [
        (ProviderState(), at(0.5, 10, exhausted=True), (TODAY, 0.5, 10, True)),
        (at(0.5, 10), ProviderState(), (TODAY, 0.5, 10, False)),
        (at(0.5, 30), at(0.7, 10), (TODAY, 0.7, 30, False)),  # each figure's maximum
        (at(0.5, 30), at(0.1, 1, exhausted=True), (TODAY, 0.5, 30, True)),
        (at(0.5, 30, day=TODAY - 1), at(0.1, 1), (TODAY, 0.1, 1, False)),  # a later day wins
        (at(0.1, 1), at(0.5, 30, day=TODAY - 1), (TODAY, 0.1, 1, False)),
    ],
)
def test_two_copies_of_a_providers_spend_keep_the_larger(
    into: ProviderState, other: ProviderState, after: tuple[int, float, int, bool]
) -> None:
    carry_spend(into, other)
    assert (into.canary_day, into.canary_usd, into.canary_tokens, into.canary_exhausted) == after


def test_the_spend_round_trips_through_the_stored_form() -> None:
    ps = at(0.0123, 456, exhausted=True)
    back = ProviderState.from_dict(ps.to_dict())
    assert spend_today(back, NOW) == DaySpend(TODAY, 0.0123, 456, True)


def test_a_provider_stored_before_the_canary_existed_loads_with_no_spend() -> None:
    old = {k: v for k, v in ProviderState().to_dict().items() if not k.startswith("canary_")}
    assert spend_today(ProviderState.from_dict(old), NOW) == DaySpend(TODAY)


# --- the property: whatever happens, no day's real spend exceeds its budget --------------------


@dataclass(frozen=True)
class Send:
    """Reserve a canary's worst case; if it fits, it is sent."""

    usd: float
    tokens: int


@dataclass(frozen=True)
class Answer:
    """The oldest canary in flight comes back having cost `share` of its worst case."""

    share: float


@dataclass(frozen=True)
class Restart:
    """The process dies. `flushed`: the settlements since the last reservation were stored."""

    flushed: bool


@dataclass(frozen=True)
class Wait:
    seconds: float


OPS = st.one_of(
    st.builds(
        Send,
        st.floats(0.0, 0.02, allow_nan=False),
        st.integers(0, 2_000),
    ),
    st.builds(Answer, st.floats(0.0, 1.0, allow_nan=False)),
    st.builds(Restart, st.booleans()),
    st.builds(Wait, st.floats(0.0, 30_000.0, allow_nan=False)),
)


@settings(max_examples=400)
@given(
    st.lists(OPS, max_size=60),
    st.floats(0.0, 0.05, allow_nan=False),
    st.integers(0, 5_000),
)
def test_no_sequence_of_sends_answers_restarts_and_midnights_spends_over_the_budget(
    ops: list[Send | Answer | Restart | Wait], usd_budget: float, token_budget: int
) -> None:
    budget = Budget(usd_budget, token_budget)
    now = NOW
    ps = ProviderState()
    stored = ps.to_dict()  # what the store holds
    in_flight: list[tuple[Reservation, float, int, int]] = []  # (held, usd, tokens, sent day)
    real: dict[int, tuple[float, int]] = {}  # what each day really cost

    def pay(day: int, usd: float, tokens: int) -> None:
        u, t = real.get(day, (0.0, 0))
        real[day] = (u + usd, t + tokens)

    for op in ops:
        if isinstance(op, Send):
            held = reserve(ps, budget, op.usd, op.tokens, now)
            if held is not None:
                stored = ps.to_dict()  # stored before sending, as the runner requires
                in_flight.append((held, op.usd, op.tokens, day_of(now)))
        elif isinstance(op, Answer) and in_flight:
            held, usd, tokens, day = in_flight.pop(0)
            cost, used = usd * op.share, int(tokens * op.share)
            pay(day, cost, used)
            settle(ps, held, cost, used)
        elif isinstance(op, Restart):
            if op.flushed:
                stored = ps.to_dict()
            for _, usd, tokens, day in in_flight:  # sent, never settled: billed in full
                pay(day, usd, tokens)
            in_flight = []
            ps = ProviderState.from_dict(stored)
        elif isinstance(op, Wait):
            now += op.seconds
        today = spend_today(ps, now)
        for day, (usd, tokens) in real.items():
            assert usd <= budget.usd + 1e-9
            assert tokens <= budget.tokens
            if day == today.day:  # the record never counts less than was really spent
                assert today.usd >= usd - 1e-9
                assert today.tokens >= tokens
