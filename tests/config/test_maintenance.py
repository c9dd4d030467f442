"""The `maintenance:` section: valid windows load, bad ones fail with one line naming where."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from modelmesh_healthd.config import ConfigError, load_config_text

BASE = """
providers:
  a: {{kind: openai, base_url: "http://127.0.0.1:1/v1", api_key: k}}
models:
  a.m: {{provider: a}}
pools:
  chat: {{models: [a.m]}}
maintenance:
  - {window}
"""


def test_a_weekly_window_loads_with_its_zone() -> None:
    text = BASE.format(
        window='{id: up, providers: [a], start: "Sun 02:00", duration: 2h, '
        "timezone: Europe/Berlin}"
    )
    (window,) = load_config_text(text).windows()
    assert (window.name, window.targets) == ("up", ("a",))
    sunday_3am_berlin = datetime(2026, 1, 4, 3, 0, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
    assert window.ends_at(sunday_3am_berlin) == sunday_3am_berlin + 3600.0
    assert window.ends_at(sunday_3am_berlin + 86400.0) is None  # Monday


def test_a_daily_window_without_a_name_is_named_by_its_position() -> None:
    text = BASE.format(window='{models: [a.m], start: "23:30", duration: 30m}')
    (window,) = load_config_text(text).windows()
    assert window.name == "window-0"
    any_day_2345_utc = datetime(2026, 5, 13, 23, 45, tzinfo=UTC).timestamp()
    assert window.ends_at(any_day_2345_utc) == any_day_2345_utc + 15 * 60


BAD = {
    "an unknown time zone": (
        '{providers: [a], start: "02:00", duration: 1h, timezone: Mars/Olympus}',
        "maintenance[0].timezone: unknown time zone 'Mars/Olympus'",
    ),
    "a start that is not a time": (
        '{providers: [a], start: "soon", duration: 1h}',
        "maintenance[0].start: expected 'Sun 02:00' (weekly) or '02:00' (daily), got 'soon'",
    ),
    "an unknown day": (
        '{providers: [a], start: "Sol 02:00", duration: 1h}',
        "maintenance[0].start: unknown day 'Sol'",
    ),
    "an hour past 23": (
        '{providers: [a], start: "24:00", duration: 1h}',
        "maintenance[0].start: no such time of day '24:00'",
    ),
    "no target": (
        '{start: "02:00", duration: 1h}',
        "maintenance[0]: a maintenance window needs providers or models to hold",
    ),
    "an unknown provider": (
        '{providers: [b], start: "02:00", duration: 1h}',
        "maintenance[0].providers[0]: unknown provider 'b'",
    ),
    "an unknown model": (
        '{models: [a.x], start: "02:00", duration: 1h}',
        "maintenance[0].models[0]: unknown model 'a.x'",
    ),
    "a duration over a week": (
        '{providers: [a], start: "02:00", duration: 8d}',
        "duration is at most 7d",
    ),
}


@pytest.mark.parametrize(("window", "message"), BAD.values(), ids=BAD.keys())
def test_a_bad_window_is_one_clear_line(window: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(BASE.format(window=window))
    lines = info.value.render().splitlines()
    assert len(lines) == 1
    assert message in lines[0]
