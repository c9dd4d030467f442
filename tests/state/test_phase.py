"""The phase a provider's latest probe leaves it in (which interval applies next)."""

from __future__ import annotations

import pytest

from modelmesh_healthd.state import Phase, ProviderState, phase_of


@pytest.mark.parametrize(
    ("state", "phase"),
    [
        (ProviderState(), Phase.HEALTHY),
        (ProviderState(consecutive_failures=1, availability_score=0.75), Phase.PENDING),
        (ProviderState(loading_since=100.0), Phase.PENDING),
        (ProviderState(available=False, availability_score=0.4), Phase.DOWN),
        (
            ProviderState(available=False, availability_score=0.5, consecutive_successes=1),
            Phase.PENDING,
        ),
        (ProviderState(auth_valid=False, available=False), Phase.DOWN),
    ],
    ids=["healthy", "first failure", "loading", "down", "first success after down", "bad key"],
)
def test_phase_follows_the_provider_state(state: ProviderState, phase: Phase) -> None:
    assert phase_of(state) is phase
