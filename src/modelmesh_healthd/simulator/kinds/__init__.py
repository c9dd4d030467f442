"""Each provider kind's simulated answers, one module per kind, resolved once from the registry.

`SIMS[kind]` is that kind's `SimKind`. Kinds that are not probed (`unsupported`) have none.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType

from modelmesh_healthd.kinds import KINDS
from modelmesh_healthd.simulator.kinds._base import OpenAIStyle, SimKind


def _resolve(module: str) -> SimKind:
    sim = importlib.import_module(f"modelmesh_healthd.simulator.kinds.{module}").SIM
    if not isinstance(sim, SimKind):
        raise TypeError(f"simulator.kinds.{module}.SIM is not a SimKind")
    return sim


SIMS: Mapping[str, SimKind] = MappingProxyType(
    {name: _resolve(spec.module) for name, spec in KINDS.items() if spec.probed}
)
"""Every simulated kind by name, in registry order."""

__all__ = ["SIMS", "OpenAIStyle", "SimKind"]
