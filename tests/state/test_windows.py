"""Scheduled maintenance windows: when one is open (time zones, DST), and what it holds."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmesh_healthd.config.maintenance import window_end as calendar_end
from modelmesh_healthd.state import (
    DEFAULT_POLICY,
    ConnectivityGuard,
    HealthCore,
    Mesh,
    Observation,
    Outcome,
    initial_state,
    observe,
)
from modelmesh_healthd.state.overrides import MAINTENANCE, list_overrides, set_override
from modelmesh_healthd.state.windows import Window, open_windows

BERLIN = ZoneInfo("Europe/Berlin")


def win(
    name: str,
    targets: tuple[str, ...],
    weekday: int | None,
    start: time,
    length: float,
    *,
    zone: ZoneInfo = BERLIN,
) -> Window:
    """A window with the configuration's calendar rule (what `maintenance:` builds)."""
    return Window(name, targets, functools.partial(calendar_end, weekday, start, length, zone))


def window_end(window: Window, now: float) -> float | None:
    return window.ends_at(now)


SUNDAY_2AM = win("upgrade", ("a",), 6, time(2, 0), 7200.0)
DAILY_23H = win("nightly", ("a.m1",), None, time(23, 0), 7200.0)


def at(text: str, zone: ZoneInfo = BERLIN) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


CASES = {
    "closed just before a weekly start": (SUNDAY_2AM, "2026-01-04T01:59:59", None),
    "open at a weekly start": (SUNDAY_2AM, "2026-01-04T02:00:00", "2026-01-04T04:00:00"),
    "open inside a weekly window": (SUNDAY_2AM, "2026-01-04T03:30:00", "2026-01-04T04:00:00"),
    "closed at its end": (SUNDAY_2AM, "2026-01-04T04:00:00", None),
    "closed on another weekday": (SUNDAY_2AM, "2026-01-05T02:30:00", None),
    "a daily window open past midnight": (DAILY_23H, "2026-03-10T00:30:00", "2026-03-10T01:00:00"),
    # Clocks go back on 2026-10-25 in Berlin: 02:00 local recurs; the first one opens it.
    "open on the day clocks go back": (SUNDAY_2AM, "2026-10-25T02:30:00", "2026-10-25T04:00:00"),
}


@pytest.mark.parametrize(("window", "now", "end"), CASES.values(), ids=CASES.keys())
def test_when_a_window_is_open(window: Window, now: str, end: str | None) -> None:
    got = window_end(window, at(now))
    if end is None:
        assert got is None
    else:
        assert got is not None
        # The end is start + duration in real seconds (on a DST day it can read one hour off).
        assert abs(got - at(end)) in (0.0, 3600.0)


def test_the_same_wall_clock_time_in_two_zones_is_two_instants() -> None:
    utc = win("u", ("a",), 6, time(2, 0), 3600.0, zone=ZoneInfo("UTC"))
    now = datetime(2026, 1, 4, 2, 30, tzinfo=UTC).timestamp()
    assert window_end(utc, now) is not None
    berlin = win("b", ("a",), 6, time(2, 0), 3600.0)
    assert window_end(berlin, now) is None  # Berlin's 02:00-03:00 is 01:00-02:00 UTC


@given(st.floats(1.6e9, 2.0e9), st.integers(0, 6), st.integers(0, 23), st.floats(60, 86400 * 3))
def test_an_open_window_ends_within_its_duration(
    now: float, weekday: int, hour: int, duration: float
) -> None:
    window = win("w", ("a",), weekday, time(hour, 0), duration)
    end = window_end(window, now)
    if end is not None:
        assert now < end <= now + duration + 3600.0  # DST can shift the wall clock by an hour


def core() -> HealthCore:
    mesh = Mesh.build(["a", "b"], {"a.m1": "a", "b.m": "b"}, {"chat": ["a.m1", "b.m"]})
    return HealthCore(mesh, initial_state(mesh), DEFAULT_POLICY, ConnectivityGuard(enabled=False))


def test_an_open_window_holds_its_targets_like_a_drain() -> None:
    c = core()
    now = at("2026-01-04T02:10:00")
    names = [e.name for e in open_windows(c.mesh, c.state, [SUNDAY_2AM], now)]
    assert names[0] == "override.set"
    (held,) = list_overrides(c.state, now)
    assert (held.target, held.source, held.until) == (
        "a",
        "schedule:upgrade",
        at("2026-01-04T04:00"),
    )
    assert c.state.models["a.m1"].deactivation_reason == MAINTENANCE


def test_a_window_sets_its_override_once_per_occurrence() -> None:
    c = core()
    open_windows(c.mesh, c.state, [SUNDAY_2AM], at("2026-01-04T02:10:00"))
    assert open_windows(c.mesh, c.state, [SUNDAY_2AM], at("2026-01-04T02:20:00")) == []


def test_a_longer_operator_drain_is_left_alone_by_a_window() -> None:
    c = core()
    now = at("2026-01-04T02:10:00")
    set_override(c.mesh, c.state, "a", until=now + 86400, reason="long", now=now - 60)
    assert open_windows(c.mesh, c.state, [SUNDAY_2AM], now) == []
    assert list_overrides(c.state, now)[0].reason == "long"


def test_observe_opens_the_probed_providers_window_and_holds_the_result() -> None:
    c = core()
    c.windows = (SUNDAY_2AM,)
    step = observe(c, "a", Observation(Outcome.SERVER_ERROR), at("2026-01-04T02:10:00"))
    assert step.overridden
    assert next(e.name for e in step.events) == "override.set"
    end = observe(c, "a", Observation(Outcome.OK), at("2026-01-04T04:00:00"))
    assert next(e.name for e in end.events) == "override.expired"
    assert c.state.models["a.m1"].is_active


def test_the_core_tick_opens_and_ends_windows_without_a_probe() -> None:
    c = core()
    c.windows = (DAILY_23H,)
    assert next(e.name for e in c.tick(at("2026-03-09T23:30:00"))) == "override.set"
    assert next(e.name for e in c.tick(at("2026-03-10T01:00:00"))) == "override.expired"
    assert c.state.models["a.m1"].is_active
