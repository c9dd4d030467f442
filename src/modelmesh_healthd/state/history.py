"""Availability history: a compacted log of state changes and the time spent in each state.

Pure: no I/O, no clock. The daemon records a subject's (a provider's or a model's) state each
time it changes; this module keeps the log bounded and answers "how much of the last window was
spent in each state?".

The log has two parts:

* `entries`: the raw changes `(at, state)`, oldest first, each state different from the one
  before. Exact.
* `buckets`: time folded out of the raw part by `compact`, as seconds per state in fixed buckets
  (`BUCKET_S`, one hour, aligned to multiples of it since the epoch). A window whose start falls
  inside a bucket counts that bucket's seconds pro rata, so a window's answer is exact over the
  raw part and off by at most one bucket's length per state over the folded part (the
  *resolution*).

The accounting rules (docs/health-model.md, "Availability history"):

* time before the first record, and time outside any record, is `unknown`;
* `maintenance` and `unknown` are left out of the ratio's denominator;
* `degraded` counts as up (and is shown apart); a rate-limited provider is up (the daemon records
  it as `up`: a rate limit never takes a provider down).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from modelmesh_healthd.state.model import ModelState
from modelmesh_healthd.state.policy import HealthPolicy
from modelmesh_healthd.state.provider import ProviderState

__all__ = [
    "BUCKET_S",
    "DEGRADED",
    "DOWN",
    "HISTORY_STATES",
    "KEEP_RAW_S",
    "MAINTENANCE",
    "MAX_ENTRIES",
    "RETAIN_S",
    "UNKNOWN",
    "UP",
    "WINDOWS",
    "Availability",
    "History",
    "HistoryError",
    "availability",
    "compact",
    "model_history_state",
    "provider_history_state",
    "record",
]

MAINTENANCE_REASONS: Final = frozenset({"maintenance", "maintenance_window", "manual"})
"""Standby reasons that are an operator's choice, not an outage: counted as maintenance."""

UP, DEGRADED, DOWN, MAINTENANCE, UNKNOWN = "up", "degraded", "down", "maintenance", "unknown"
HISTORY_STATES: Final = (UP, DEGRADED, DOWN, MAINTENANCE, UNKNOWN)
"""Every state time is counted in."""

BUCKET_S: Final = 3600.0
"""Length of one folded bucket: the resolution of answers that reach into the folded part."""

KEEP_RAW_S: Final = 25 * 3600.0
"""How far back raw entries are kept: the 1 h and 24 h windows are always exact."""

RETAIN_S: Final = 31 * 86400.0
"""How far back anything is kept: the longest window (30 d) and a day to spare."""

MAX_ENTRIES: Final = 2000
"""At most this many raw entries before the current bucket: a flapping provider folds sooner."""

WINDOWS: Final[Mapping[str, float]] = {
    "1h": 3600.0,
    "24h": 86400.0,
    "7d": 7 * 86400.0,
    "30d": 30 * 86400.0,
}
"""The windows shown in `status`, the history endpoint and metrics."""


class HistoryError(ValueError):
    """A stored history that does not parse (named by what is wrong)."""


_NO_BUCKETS: Final[Mapping[float, Mapping[str, float]]] = MappingProxyType({})
"""Shared by every history with nothing folded: most subjects, and a dict each is memory per
subject for nothing (docs/benchmarks.md, scheduler at scale)."""


@dataclass(frozen=True, slots=True)
class History:
    """One subject's compacted log.

    Attributes:
        entries: Raw changes `(at, state)`, oldest first, consecutive states differ.
        buckets: Folded time: bucket start -> {state: seconds}, every bucket before
            `folded_until`.
        folded_until: Everything before this instant is in `buckets` (None: nothing folded);
            the state at this instant is the first entry's.
    """

    entries: tuple[tuple[float, str], ...] = ()
    buckets: Mapping[float, Mapping[str, float]] = field(default_factory=lambda: _NO_BUCKETS)
    folded_until: float | None = None

    @property
    def current(self) -> str:
        """The latest recorded state (`unknown` before any)."""
        return self.entries[-1][1] if self.entries else UNKNOWN

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored."""
        return {
            "entries": [[at, state] for at, state in self.entries],
            "buckets": {
                _key(start): dict(sorted(secs.items()))
                for start, secs in sorted(self.buckets.items())
            },
            "folded_until": self.folded_until,
        }

    @classmethod
    def from_dict(cls, data: Any) -> History:
        """Parse `to_dict()` output.

        Raises:
            HistoryError: It is not a history (says what is wrong).
        """
        if not isinstance(data, dict):
            raise HistoryError("history: not an object")
        try:
            entries = tuple((float(at), _state(state)) for at, state in data.get("entries", []))
            buckets = {
                float(start): {_state(s): float(v) for s, v in secs.items()}
                for start, secs in dict(data.get("buckets", {})).items()
            }
            folded = data.get("folded_until")
            folded_until = None if folded is None else float(folded)
        except (TypeError, ValueError, AttributeError) as exc:
            raise HistoryError(f"history: {exc}") from None
        if any(b[0] > a[0] for a, b in zip(entries[1:], entries, strict=False)):
            raise HistoryError("history: entries out of order")
        return cls(entries, buckets or _NO_BUCKETS, folded_until)


def _key(start: float) -> str:
    return str(int(start)) if start == int(start) else repr(start)


def _state(value: Any) -> str:
    if value not in HISTORY_STATES:
        raise ValueError(f"unknown state {value!r}")
    return str(value)


@dataclass(frozen=True, slots=True)
class Availability:
    """Time spent in each state over one window.

    Attributes:
        window_s: The window's length.
        seconds: State -> seconds in the window (sums to `window_s`).
    """

    window_s: float
    seconds: Mapping[str, float]

    @property
    def fractions(self) -> dict[str, float]:
        """State -> share of the window (sums to 1)."""
        return {s: self.seconds.get(s, 0.0) / self.window_s for s in HISTORY_STATES}

    @property
    def ratio(self) -> float | None:
        """Up (degraded included) over up + degraded + down; None when none of those was seen.

        Maintenance and unknown time are excluded from both sides.
        """
        up = self.seconds.get(UP, 0.0) + self.seconds.get(DEGRADED, 0.0)
        counted = up + self.seconds.get(DOWN, 0.0)
        return up / counted if counted > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "window_s": self.window_s,
            "ratio": self.ratio,
            "seconds": {s: self.seconds.get(s, 0.0) for s in HISTORY_STATES},
            "fractions": self.fractions,
        }


def record(history: History, at: float, state: str) -> History:
    """`history` with `state` from `at` on (unchanged when it is already the current state).

    A record older than the latest entry is taken as at the latest entry's time: the log stays
    ordered even if two writers' clocks disagree slightly.
    """
    _state(state)
    if history.entries and history.entries[-1][1] == state:
        return history
    if history.entries:
        at = max(at, history.entries[-1][0])
    if history.folded_until is not None:
        at = max(at, history.folded_until)
    entries = history.entries
    if entries and entries[-1][0] == at:
        entries = entries[:-1]  # two changes at one instant: the later one holds
        if entries and entries[-1][1] == state:
            return History(entries, history.buckets, history.folded_until)
    return History((*entries, (at, state)), history.buckets, history.folded_until)


def _segments(
    entries: tuple[tuple[float, str], ...], until: float
) -> Iterable[tuple[float, float, str]]:
    """`(start, end, state)` of each raw entry, the last one running to `until`."""
    for i, (at, state) in enumerate(entries):
        end = entries[i + 1][0] if i + 1 < len(entries) else until
        end = min(end, until)
        if end > at:
            yield at, end, state


def compact(
    history: History,
    now: float,
    *,
    keep_raw_s: float = KEEP_RAW_S,
    retain_s: float = RETAIN_S,
    max_entries: int = MAX_ENTRIES,
    bucket_s: float = BUCKET_S,
) -> History:
    """Fold raw entries older than `keep_raw_s` (or beyond `max_entries`) into buckets.

    The cut falls on a bucket boundary, so folding never splits a bucket between the raw and the
    folded part; buckets older than `retain_s` are dropped. A window's answer changes by at most
    one bucket's length per state.
    """
    cut = math.floor((now - keep_raw_s) / bucket_s) * bucket_s
    entries = history.entries
    if len(entries) > max_entries:
        # Past the entry that must go, but never into the current bucket: folding time that has
        # not passed yet would invent it. The bound is thus `max_entries` plus the changes of
        # the current bucket, which the probe interval limits.
        must_go = math.ceil(entries[len(entries) - max_entries][0] / bucket_s) * bucket_s
        cut = max(cut, min(must_go, math.floor(now / bucket_s) * bucket_s))
    floor = cut - retain_s
    if (not entries or entries[0][0] >= cut) and all(k + bucket_s > floor for k in history.buckets):
        return history  # nothing to fold or drop: the same (immutable) history, no copy
    buckets = {k: dict(v) for k, v in history.buckets.items() if k + bucket_s > floor}
    if not entries or entries[0][0] >= cut:
        return History(entries, buckets or _NO_BUCKETS, history.folded_until)
    for start, end, state in _segments(entries, cut):
        t = start
        while t < end:
            b = math.floor(t / bucket_s) * bucket_s
            stop = min(end, b + bucket_s)
            if b + bucket_s > floor:
                secs = buckets.setdefault(b, {})
                secs[state] = secs.get(state, 0.0) + (stop - t)
            t = stop
    # The entry in force at the cut carries on from the cut.
    in_force = [e for e in entries if e[0] <= cut][-1][1]
    kept = tuple(e for e in entries if e[0] > cut)
    if not kept or kept[0][1] != in_force:
        kept = ((cut, in_force), *kept)
    return History(kept, buckets, cut)


def availability(
    history: History, now: float, window_s: float, *, bucket_s: float = BUCKET_S
) -> Availability:
    """Seconds in each state over `[now - window_s, now]`.

    Raw entries count exactly. Folded buckets count whole when inside the window and pro rata
    when the window starts inside them. Time no record covers is `unknown`.
    """
    start = now - window_s
    seconds = dict.fromkeys(HISTORY_STATES, 0.0)
    for b, secs in history.buckets.items():
        lo, hi = max(b, start), min(b + bucket_s, now)
        if hi <= lo:
            continue
        share = (hi - lo) / bucket_s
        for state, s in secs.items():
            seconds[state] += s * share
    for at, end, state in _segments(history.entries, now):
        lo, hi = max(at, start), end
        if hi > lo:
            seconds[state] += hi - lo
    known = sum(seconds.values())
    seconds[UNKNOWN] += max(0.0, window_s - known)
    # Pro-rated buckets can overshoot a hair; scale so the shares sum to the window exactly.
    total = sum(seconds.values())
    if total > window_s > 0:
        seconds = {s: v * window_s / total for s, v in seconds.items()}
    return Availability(window_s, seconds)


def provider_history_state(
    provider: ProviderState, policy: HealthPolicy, *, maintenance: bool = False
) -> str:
    """The history state of a provider now.

    Args:
        provider: Its health.
        policy: The thresholds `is_healthy` applies.
        maintenance: An override or a maintenance window holds it (takes precedence).
    """
    if maintenance:
        return MAINTENANCE
    if provider.last_probe is None:
        return UNKNOWN
    if not provider.is_healthy(policy):
        return DOWN
    # A rate limit is not an outage: a throttled provider that is healthy counts as up.
    slow = provider.degraded or provider.last_outcome == "degraded"
    return DEGRADED if slow else UP


def model_history_state(model: ModelState, provider_state: str) -> str:
    """The history state of a model, given its provider's (`provider_history_state`).

    A model follows its provider, except that it is degraded while slow on its own, down while
    in standby for a reason of its own (`model_not_found`, a router's `budget_exceeded`, ...)
    and in maintenance while an operator holds it out (`maintenance_window`: a drain or window;
    `maintenance`; or `manual`: disabled in the configuration).
    """
    if model.is_active:
        if model.degraded and provider_state == UP:
            return DEGRADED  # slow on its own (its canary), still active
        return provider_state
    if model.deactivation_reason in MAINTENANCE_REASONS:
        return MAINTENANCE
    if provider_state in (MAINTENANCE, UNKNOWN):
        return provider_state
    return DOWN
