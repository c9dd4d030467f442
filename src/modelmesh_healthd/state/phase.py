"""Which probe interval applies to a provider: the phase its latest probe left it in.

A table, not a chain of ifs: (healthy?, settling?) -> phase, where "settling" means the provider
has started to move away from where it is (a failure while healthy, a success while down, a
server still loading). The daemon's timing turns a phase into seconds.
"""

from __future__ import annotations

from enum import StrEnum

from modelmesh_healthd.state.policy import DEFAULT_POLICY, HealthPolicy
from modelmesh_healthd.state.provider import ProviderState

__all__ = ["Phase", "phase_of"]


class Phase(StrEnum):
    """Which interval applies to a provider."""

    HEALTHY = "healthy"
    """All is well: `interval`."""
    PENDING = "pending"
    """A transition may be under way (a first failure, a first success after down, a server
    still loading): `fast_interval`, so the verdict comes quickly."""
    DOWN = "down"
    """Unhealthy and still failing: `down_interval`, doubling per failed probe up to the cap."""


_PHASES: dict[tuple[bool, bool], Phase] = {
    # (healthy, settling): phase
    (True, False): Phase.HEALTHY,
    (True, True): Phase.PENDING,
    (False, True): Phase.PENDING,
    (False, False): Phase.DOWN,
}


def phase_of(state: ProviderState, policy: HealthPolicy = DEFAULT_POLICY) -> Phase:
    """The phase a provider is in after its latest probe."""
    healthy = state.is_healthy(policy)
    if healthy:
        settling = state.consecutive_failures > 0 or state.loading_since is not None
    else:
        settling = state.consecutive_successes > 0
    return _PHASES[healthy, settling]
