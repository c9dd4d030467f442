"""The `maintenance:` section: recurring maintenance windows with a time zone.

    maintenance:
      - id: db-upgrade              # optional; the override's source is schedule:<id>
        providers: [openai]         # and/or models: [openai.gpt-4o]
        start: "Sun 02:00"          # weekly; "02:00" alone is daily
        duration: 2h
        timezone: Europe/Berlin     # IANA name (zoneinfo); default UTC
        reason: monthly upgrade

While a window is open its targets are held exactly as by `drain` (`state.windows`).
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from modelmesh_healthd.config.section import _Section
from modelmesh_healthd.config.types import PositiveDuration

if TYPE_CHECKING:
    from modelmesh_healthd.state.windows import Window

__all__ = ["MaintenanceWindow", "window_end"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_START = re.compile(r"^(?:(?P<day>[A-Za-z]{3})[a-z]*\s+)?(?P<h>\d{1,2}):(?P<m>\d{2})$")


class MaintenanceWindow(_Section):
    """One recurring maintenance window."""

    id: str | None = None
    """Its id in events and `overrides` (default: its position, `window-<n>`)."""
    providers: list[str] = Field(default_factory=list)
    """Providers it holds (their models go to standby as `maintenance_window`)."""
    models: list[str] = Field(default_factory=list)
    """Models it holds on their own."""
    start: str
    """`Sun 02:00` (weekly, day names in English) or `02:00` (daily), wall-clock in `timezone`."""
    duration: PositiveDuration
    """How long it stays open, e.g. `2h` (at most 7 days)."""
    timezone: str = "UTC"
    """IANA time zone name, e.g. `Europe/Berlin`."""
    reason: str = "scheduled maintenance"
    """Shown with the override."""

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        _parse_start(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # for the files that have windows

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name like Europe/Berlin)"
            ) from None
        return value

    @model_validator(mode="after")
    def _some_target(self) -> MaintenanceWindow:
        if not self.providers and not self.models:
            raise ValueError("a maintenance window needs providers or models to hold")
        if self.duration > 7 * 86400:
            raise ValueError("duration is at most 7d (a window recurs at most weekly)")
        return self

    def window(self, index: int) -> Window:
        """The pure core's form of this window (`index`: its position, for a default name)."""
        # The core's windows (and the overrides they set) only for a daemon that has some.
        from zoneinfo import ZoneInfo

        from modelmesh_healthd.state.windows import Window

        weekday, start = _parse_start(self.start)
        rule = functools.partial(
            window_end, weekday, start, float(self.duration), ZoneInfo(self.timezone)
        )
        return Window(
            name=self.id or f"window-{index}",
            targets=(*self.providers, *self.models),
            ends_at=rule,
            reason=self.reason,
        )


def window_end(
    weekday: int | None, start: time, duration: float, zone: tzinfo, now: float
) -> float | None:
    """When the occurrence open at `now` closes, or None if none is open.

    Args:
        weekday: 0 (Monday) to 6 (Sunday), or None for every day.
        start: Wall-clock start in `zone` (a start in a skipped DST hour begins at the instant
            the zone maps it to; on the day clocks go back the first of the two begins it).
        duration: Seconds it stays open (real seconds, whatever the wall clock does).
        zone: Its time zone.
        now: Unix time.
    """
    local = datetime.fromtimestamp(now, zone)
    # An occurrence open now started at most `duration` ago: look back that many days, plus one.
    for back in range(int(duration // 86400) + 2):
        day = local.date() - timedelta(days=back)
        if weekday is not None and day.weekday() != weekday:
            continue
        begins = datetime.combine(day, start, tzinfo=zone).timestamp()
        if begins <= now < begins + duration:
            return begins + duration
    return None


def _parse_start(value: str) -> tuple[int | None, time]:
    match = _START.match(value.strip())
    if match is None:
        raise ValueError(f"expected 'Sun 02:00' (weekly) or '02:00' (daily), got {value!r}")
    day, hour, minute = match["day"], int(match["h"]), int(match["m"])
    if hour > 23 or minute > 59:
        raise ValueError(f"no such time of day {value!r}")
    if day is None:
        return None, time(hour, minute)
    if day.lower() not in _DAYS:
        raise ValueError(f"unknown day {day!r} in {value!r} (Mon, Tue, ... Sun)")
    return _DAYS.index(day.lower()), time(hour, minute)
