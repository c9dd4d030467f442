"""Availability accounting: the rules of docs/health-model.md, table-driven and as properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmesh_healthd.state.history import (
    BUCKET_S,
    DEGRADED,
    DOWN,
    HISTORY_STATES,
    MAINTENANCE,
    UNKNOWN,
    UP,
    WINDOWS,
    History,
    HistoryError,
    availability,
    compact,
    model_history_state,
    provider_history_state,
    record,
)
from modelmesh_healthd.state.model import ACTIVE, STANDBY, ModelState
from modelmesh_healthd.state.policy import HealthPolicy
from modelmesh_healthd.state.provider import ProviderState

H = 3600.0
T0 = 1_000 * 86400.0  # a bucket-aligned instant, far from the epoch


def log(*changes: tuple[float, str]) -> History:
    h = History()
    for at, state in changes:
        h = record(h, at, state)
    return h


@pytest.mark.parametrize(
    ("changes", "now", "window", "expected", "ratio"),
    [
        # before the first record is unknown, and unknown is not in the ratio
        ([(T0 + 1800, UP)], T0 + H, H, {UP: 1800, UNKNOWN: 1800}, 1.0),
        ([(T0, UP), (T0 + 900, DOWN)], T0 + H, H, {UP: 900, DOWN: 2700}, 0.25),
        # maintenance is excluded from the denominator
        ([(T0, UP), (T0 + 1800, MAINTENANCE)], T0 + H, H, {UP: 1800, MAINTENANCE: 1800}, 1.0),
        # degraded counts as up, and is shown apart
        ([(T0, DEGRADED), (T0 + 1800, DOWN)], T0 + H, H, {DEGRADED: 1800, DOWN: 1800}, 0.5),
        # only the window counts: the hour before it does not
        ([(T0 - H, DOWN), (T0, UP)], T0 + H, H, {UP: 3600}, 1.0),
        # nothing but unknown and maintenance: no ratio
        ([(T0, MAINTENANCE)], T0 + H, 2 * H, {MAINTENANCE: 3600, UNKNOWN: 3600}, None),
        ([], T0, H, {UNKNOWN: 3600}, None),
    ],
)
def test_availability_counts_each_state_by_the_rules(
    changes: list[tuple[float, str]],
    now: float,
    window: float,
    expected: dict[str, float],
    ratio: float | None,
) -> None:
    got = availability(log(*changes), now, window)
    assert {s: v for s, v in got.seconds.items() if v} == pytest.approx(expected)
    assert got.ratio == (None if ratio is None else pytest.approx(ratio))


def test_recording_the_current_state_again_changes_nothing() -> None:
    h = log((T0, UP))
    assert record(h, T0 + 10, UP) is h


def test_two_changes_at_one_instant_keep_the_later() -> None:
    assert log((T0, UP), (T0 + 5, DOWN), (T0 + 5, MAINTENANCE)).entries == (
        (T0, UP),
        (T0 + 5, MAINTENANCE),
    )


def test_a_record_older_than_the_last_is_taken_at_the_last_time() -> None:
    assert log((T0, UP), (T0 - 5, DOWN)).entries == ((T0, DOWN),)


def test_compaction_keeps_the_last_day_raw() -> None:
    h = log((T0, UP), (T0 + 2 * H, DOWN), (T0 + 30 * H, UP))
    c = compact(h, T0 + 30 * H + 60)
    assert c.folded_until is not None
    assert c.folded_until <= T0 + 30 * H + 60 - 24 * H
    assert c.entries[-1] == (T0 + 30 * H, UP)
    assert c.buckets[T0] == {UP: H}
    assert c.buckets[T0 + 2 * H] == {DOWN: H}


def test_compaction_bounds_the_number_of_entries() -> None:
    h = History()
    for i in range(500):
        h = record(h, T0 + i * 60, UP if i % 2 else DOWN)
    now = T0 + 500 * 60
    c = compact(h, now, max_entries=100)
    in_current_bucket = sum(1 for at, _ in h.entries if at >= now // BUCKET_S * BUCKET_S)
    assert len(c.entries) <= 101 + in_current_bucket


def test_compaction_drops_buckets_older_than_retention() -> None:
    h = log((T0, UP), (T0 + 40 * 86400, DOWN))
    c = compact(h, T0 + 40 * 86400 + 60)
    assert min(c.buckets) >= T0 + 40 * 86400 - 25 * H - 31 * 86400 - BUCKET_S


def test_a_history_survives_its_json_form() -> None:
    h = compact(log((T0, UP), (T0 + 2 * H, DOWN), (T0 + 30 * H, UP)), T0 + 31 * H)
    assert History.from_dict(h.to_dict()) == h


@pytest.mark.parametrize(
    "data",
    [[], {"entries": [[1, "sideways"]]}, {"entries": [[2, "up"], [1, "down"]]}, {"entries": 3}],
)
def test_a_malformed_history_is_refused_with_a_reason(data: object) -> None:
    with pytest.raises(HistoryError, match="history"):
        History.from_dict(data)


changes = st.lists(
    st.tuples(st.floats(0, 40 * 86400, allow_nan=False), st.sampled_from(HISTORY_STATES)),
    max_size=60,
)


def build(raw: list[tuple[float, str]]) -> History:
    return log(*((T0 + at, s) for at, s in sorted(raw)))


@settings(max_examples=200, deadline=None)
@given(changes, st.floats(0, 45 * 86400), st.sampled_from(sorted(WINDOWS.values())))
def test_fractions_sum_to_one_over_any_window(
    raw: list[tuple[float, str]], offset: float, window: float
) -> None:
    got = availability(build(raw), T0 + offset, window)
    assert sum(got.fractions.values()) == pytest.approx(1.0)
    assert all(v >= -1e-6 for v in got.seconds.values())


@settings(max_examples=200, deadline=None)
@given(changes, st.floats(0, 45 * 86400), st.integers(1, 50))
def test_compaction_changes_no_window_by_more_than_one_bucket_per_state(
    raw: list[tuple[float, str]], offset: float, max_entries: int
) -> None:
    h = build(raw)
    now = T0 + max(offset, max((at for at, _ in raw), default=0.0))
    c = compact(h, now, max_entries=max_entries)
    for window in WINDOWS.values():
        exact, folded = availability(h, now, window), availability(c, now, window)
        for state in HISTORY_STATES:
            assert abs(exact.seconds[state] - folded.seconds[state]) <= BUCKET_S + 1e-6


@settings(max_examples=100, deadline=None)
@given(changes, st.floats(0, 45 * 86400))
def test_compacting_twice_answers_like_compacting_once(
    raw: list[tuple[float, str]], offset: float
) -> None:
    h = build(raw)
    now = T0 + max(offset, max((at for at, _ in raw), default=0.0))
    once = compact(h, now)
    twice = compact(once, now)
    for window in WINDOWS.values():
        a, b = availability(once, now, window), availability(twice, now, window)
        assert a.seconds == pytest.approx(b.seconds)


@settings(max_examples=100, deadline=None)
@given(changes)
def test_the_current_state_is_the_last_recorded(raw: list[tuple[float, str]]) -> None:
    h = build(raw)
    assert h.current == (sorted(raw)[-1][1] if raw else UNKNOWN)


def provider(**fields: object) -> ProviderState:
    ps = ProviderState()
    for key, value in fields.items():
        setattr(ps, key, value)
    return ps


@pytest.mark.parametrize(
    ("fields", "maintenance", "expected"),
    [
        ({}, False, UNKNOWN),  # never probed
        ({"last_probe": 1.0, "last_outcome": "ok"}, False, UP),
        ({"last_probe": 1.0, "last_outcome": "rate_limited"}, False, UP),
        ({"last_probe": 1.0, "last_outcome": "degraded"}, False, DEGRADED),
        ({"last_probe": 1.0, "last_outcome": "ok", "degraded": True}, False, DEGRADED),
        ({"last_probe": 1.0, "available": False, "last_outcome": "timeout"}, False, DOWN),
        ({"last_probe": 1.0, "auth_valid": False}, False, DOWN),
        ({"last_probe": 1.0, "available": False}, True, MAINTENANCE),
        ({}, True, MAINTENANCE),
    ],
)
def test_a_providers_history_state_follows_its_health(
    fields: dict[str, object], maintenance: bool, expected: str
) -> None:
    got = provider_history_state(provider(**fields), HealthPolicy(), maintenance=maintenance)
    assert got == expected


@pytest.mark.parametrize(
    ("status", "reason", "provider_state", "expected"),
    [
        (ACTIVE, None, UP, UP),
        (ACTIVE, None, DEGRADED, DEGRADED),
        (STANDBY, "provider_unavailable", DOWN, DOWN),
        (STANDBY, "model_not_found", UP, DOWN),
        (STANDBY, "maintenance", UP, MAINTENANCE),
        (STANDBY, "maintenance_window", UP, MAINTENANCE),
        (STANDBY, "manual", DOWN, MAINTENANCE),
        (STANDBY, "provider_unavailable", MAINTENANCE, MAINTENANCE),
        (STANDBY, "budget_exceeded", UNKNOWN, UNKNOWN),
    ],
)
def test_a_models_history_state_follows_its_provider_and_its_own_reason(
    status: str, reason: str | None, provider_state: str, expected: str
) -> None:
    model = ModelState(status=status, deactivation_reason=reason)
    assert model_history_state(model, provider_state) == expected


def test_a_model_slow_on_its_own_is_degraded_while_its_provider_is_up() -> None:
    model = ModelState(status=ACTIVE, degraded=True)
    assert model_history_state(model, UP) == DEGRADED
    assert model_history_state(model, MAINTENANCE) == MAINTENANCE
