"""The self-connectivity guard: is a network failure the provider's fault, or ours?

When the daemon's own network breaks, every probe fails with `timeout` or `connect_error` and a
naive daemon would deactivate the whole fleet. The guard holds back a network-class failure
that would take a provider down until some *other* provider has answered (any HTTP answer) since
this provider's trouble began: an answer proves our network works, so the failure is real. With
no such evidence the failure is not applied, the provider is probed again soon, and the daemon
asks for evidence by probing another provider early.

Pure: `observe` (state.step) feeds it each outcome with its time and whether applying it would
take the provider down; it returns a ruling. Its memory (who failed since when, who answered last)
lives here, beside the rest of the core's, so the ruling is decided where the transition is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelmesh_healthd.state.outcome import Outcome

__all__ = ["NETWORK_OUTCOMES", "ConnectivityGuard", "GuardRuling"]

NETWORK_OUTCOMES = frozenset({Outcome.TIMEOUT, Outcome.CONNECT_ERROR})
"""Outcomes that a broken network on our side produces for every provider alike."""


@dataclass(frozen=True, slots=True)
class GuardRuling:
    """The guard's ruling on one probe result."""

    hold: bool
    """Do not apply the result: there is no proof the fault is the provider's."""
    suspect_started: bool = False
    """This result starts a suspicion episode (log `daemon.network_suspect` once)."""
    suspect_ended: bool = False
    """This result is the evidence that ends one (log `daemon.network_restored`)."""


@dataclass(slots=True)
class ConnectivityGuard:
    """Tracks who answered when, and holds back failures that lack evidence.

    Attributes:
        enabled: Off: every result is applied.
        min_providers: Fleets smaller than this are not guarded (one provider is its own fleet).
    """

    enabled: bool = True
    min_providers: int = 3
    last_answer_at: float | None = None
    """When any provider last gave an HTTP answer."""
    streak_started: dict[str, float] = field(default_factory=dict)
    """Provider -> time of the first network failure of its current run of them."""
    held: set[str] = field(default_factory=set)
    """Providers whose down transition is being held."""

    @property
    def suspect(self) -> bool:
        """True while some failure is held for lack of evidence."""
        return bool(self.held)

    def observe(
        self, provider: str, outcome: Outcome, now: float, *, would_go_down: bool, fleet: int
    ) -> GuardRuling:
        """Judge one result.

        Args:
            provider: Who was probed.
            outcome: The probe's outcome.
            now: When it completed.
            would_go_down: Applying it would take a healthy provider down.
            fleet: How many providers are probed.

        Returns:
            Whether to hold the result back.
        """
        if outcome not in NETWORK_OUTCOMES:
            self.last_answer_at = now
            self.streak_started.pop(provider, None)
            ended = self.suspect
            # Every held provider's trouble began before this answer: their next failure, if any,
            # is real and will be applied.
            self.held.clear()
            return GuardRuling(hold=False, suspect_ended=ended)
        started = self.streak_started.setdefault(provider, now)
        if not (self.enabled and would_go_down and fleet >= self.min_providers):
            self.held.discard(provider)
            return GuardRuling(hold=False)
        if self.last_answer_at is not None and self.last_answer_at >= started:
            self.held.discard(provider)
            return GuardRuling(hold=False)
        was_suspect = self.suspect
        self.held.add(provider)
        return GuardRuling(hold=True, suspect_started=not was_suspect)

    def forget(self, provider: str) -> None:
        """Drop a provider that left the configuration."""
        self.streak_started.pop(provider, None)
        self.held.discard(provider)
