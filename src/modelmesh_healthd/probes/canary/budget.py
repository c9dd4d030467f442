"""The canary's hard daily budget per provider: pure bookkeeping, time as a parameter.

A canary is sent only when its worst case (the whole output allowance billed) still fits in what
is left of the provider's USD and token budget for the UTC day; what it really cost is charged
after. So the budget holds even if every answer uses its whole allowance.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Budget", "Ledger", "day_of"]

_DAY = 86_400


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


@dataclass(slots=True)
class Ledger:
    """What one provider's canaries spent today.

    Attributes:
        day: The UTC day the figures are for.
        usd: USD spent that day.
        tokens: Tokens spent that day.
        exhausted: The budget refused a canary that day (said once, then quiet).
    """

    day: int = -1
    usd: float = 0.0
    tokens: int = 0
    exhausted: bool = False

    def roll(self, now: float) -> None:
        """Start a new day's figures when `now` is on a later UTC day."""
        today = day_of(now)
        if today != self.day:
            self.day, self.usd, self.tokens, self.exhausted = today, 0.0, 0, False

    def allows(self, budget: Budget, usd: float, tokens: int, now: float) -> bool:
        """Whether a canary whose worst case is (`usd`, `tokens`) fits in today's budget."""
        self.roll(now)
        return self.usd + usd <= budget.usd + 1e-12 and self.tokens + tokens <= budget.tokens

    def charge(self, usd: float, tokens: int, now: float) -> None:
        """Count what a canary really cost."""
        self.roll(now)
        self.usd += max(0.0, usd)
        self.tokens += max(0, tokens)

    def left(self, budget: Budget) -> tuple[float, int]:
        """(USD, tokens) left today."""
        return max(0.0, budget.usd - self.usd), max(0, budget.tokens - self.tokens)
