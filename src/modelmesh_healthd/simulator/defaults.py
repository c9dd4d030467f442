"""One simulated provider of each kind, with fixed fake keys and plausible model lists."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds import SIMS

__all__ = ["DEFAULT_KEYS", "default_providers"]

DEFAULT_KEYS: Mapping[str, str | None] = MappingProxyType(
    {kind: sim.default_key for kind, sim in SIMS.items()}
)
"""The key each default provider accepts (None: no key)."""


def default_providers() -> list[SimProvider]:
    """Fresh providers, one per kind, each named after its kind.

    Returns:
        New `SimProvider` objects (healthy), safe to mutate.
    """
    return [
        SimProvider(name=kind, kind=kind, api_key=sim.default_key, models=sim.models)
        for kind, sim in SIMS.items()
    ]
