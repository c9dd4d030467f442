"""The canary's hard daily budget per provider: pure bookkeeping on the provider's own state.

The day's spend lives on `ProviderState` (`canary_day`, `canary_usd`, `canary_tokens`,
`canary_exhausted`), so it is persisted in the provider's row by every store, restored at
start, and taken over with the provider by another replica. One record per provider: the
figures of an earlier UTC day are dropped the first time a later day is read (that is the
pruning), so nothing grows.

A canary is paid for in two steps:

1. `reserve` its worst case (the whole output allowance billed) if that still fits in what is
   left today; the caller must have the reservation stored *before* sending;
2. `settle` it with what the answer really cost (replacing the worst case).

A crash between the two leaves the worst case counted: a restart can only under-spend, never
overspend. A settlement on a later day than its reservation changes nothing (the earlier day's
record is gone; today owes nothing for it).
"""

from __future__ import annotations

from dataclasses import dataclass

from modelmesh_healthd.state.provider import ProviderState

__all__ = [
    "Budget",
    "DaySpend",
    "Reservation",
    "carry_spend",
    "day_of",
    "release",
    "reserve",
    "settle",
    "spend_today",
]

_DAY = 86_400
_SLACK = 1e-12
"""Float slack for the USD comparison (sums of prices per million tokens are not exact)."""


def day_of(now: float) -> int:
    """The UTC day number of Unix time `now` (budgets reset at 00:00 UTC)."""
    return int(now // _DAY)


@dataclass(frozen=True, slots=True)
class Budget:
    """A provider's daily canary budget.

    Attributes:
        usd: USD per UTC day.
        tokens: Tokens (prompt + completion, reasoning included) per UTC day.
    """

    usd: float
    tokens: int


@dataclass(frozen=True, slots=True)
class Reservation:
    """A canary's worst case, counted on `day` before the canary was sent."""

    day: int
    usd: float
    tokens: int


@dataclass(frozen=True, slots=True)
class DaySpend:
    """What a provider's canary committed on one UTC day (read-only, for metrics and logs)."""

    day: int
    usd: float = 0.0
    tokens: int = 0
    exhausted: bool = False

    def left(self, budget: Budget) -> tuple[float, int]:
        """(USD, tokens) left of `budget` that day."""
        return max(0.0, budget.usd - self.usd), max(0, budget.tokens - self.tokens)


def _roll(ps: ProviderState, today: int) -> None:
    # A record of an earlier day is dropped (pruned) rather than kept beside today's. A record
    # of a *later* day (a clock stepped back) is kept: it can only make the canary spend less.
    if ps.canary_day is None or ps.canary_day < today:
        ps.canary_day, ps.canary_usd, ps.canary_tokens = today, 0.0, 0
        ps.canary_exhausted = False


def spend_today(ps: ProviderState, now: float) -> DaySpend:
    """The provider's canary spend on `now`'s UTC day (zero when its record is older)."""
    today = day_of(now)
    if ps.canary_day is None or ps.canary_day < today:
        return DaySpend(today)
    return DaySpend(ps.canary_day, ps.canary_usd, ps.canary_tokens, ps.canary_exhausted)


def reserve(
    ps: ProviderState, budget: Budget, usd: float, tokens: int, now: float
) -> Reservation | None:
    """Count a canary's worst case (`usd`, `tokens`) if it fits in what is left today.

    Args:
        ps: The provider (its canary record is rolled to today and, on success, charged).
        budget: Its daily budget.
        usd: The canary's worst-case cost.
        tokens: Its worst-case tokens.
        now: Wall time (the day).

    Returns:
        The reservation to `settle` (or `release`) later; None when it does not fit, and then
        the day is marked exhausted.
    """
    today = day_of(now)
    _roll(ps, today)
    usd, tokens = max(0.0, usd), max(0, tokens)
    fits = (
        ps.canary_usd + usd <= budget.usd + _SLACK and ps.canary_tokens + tokens <= budget.tokens
    )
    if not fits:
        ps.canary_exhausted = True
        return None
    ps.canary_usd += usd
    ps.canary_tokens += tokens
    return Reservation(ps.canary_day if ps.canary_day is not None else today, usd, tokens)


def settle(ps: ProviderState, reservation: Reservation, usd: float, tokens: int) -> None:
    """Replace a reservation's worst case with what the canary really cost.

    What it really cost is counted even above the worst case (a provider that ignored the
    output cap): the record stays true, and the next reservation sees it.
    """
    if ps.canary_day != reservation.day:
        return  # that day's record is gone: today owes nothing for it
    ps.canary_usd = max(0.0, ps.canary_usd - reservation.usd + max(0.0, usd))
    ps.canary_tokens = max(0, ps.canary_tokens - reservation.tokens + max(0, tokens))


def release(ps: ProviderState, reservation: Reservation) -> None:
    """Give a reservation back: its canary was never sent."""
    settle(ps, reservation, 0.0, 0)


def carry_spend(into: ProviderState, other: ProviderState) -> None:
    """Keep the larger of two copies of a provider's canary record (a takeover, `--fresh`).

    Two copies of the same day are merged by taking each figure's maximum: whichever copy saw
    more spend wins, so neither copy's reservations are forgotten. A later day wins outright.
    """
    if other.canary_day is None:
        return
    if into.canary_day is None or other.canary_day > into.canary_day:
        into.canary_day, into.canary_usd = other.canary_day, other.canary_usd
        into.canary_tokens, into.canary_exhausted = other.canary_tokens, other.canary_exhausted
    elif other.canary_day == into.canary_day:
        into.canary_usd = max(into.canary_usd, other.canary_usd)
        into.canary_tokens = max(into.canary_tokens, other.canary_tokens)
        into.canary_exhausted = into.canary_exhausted or other.canary_exhausted
