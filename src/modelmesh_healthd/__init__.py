"""modelmesh-healthd: the health daemon for ModelMesh provider pools.

For routers in other processes, the persisted state is one call away::

    from modelmesh_healthd import read_state
    state = await read_state("sqlite:////var/lib/modelmesh-healthd/state.db")
    state.pools["chat-completion"].active_models      # the models to route to now
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

if TYPE_CHECKING:
    from modelmesh_healthd.state import HealthPolicy, Outcome, ProviderState, SystemState
    from modelmesh_healthd.storage import read_snapshot, read_state

__all__ = [
    "HealthPolicy",
    "Outcome",
    "ProviderState",
    "SystemState",
    "__version__",
    "read_snapshot",
    "read_state",
]

# Imported on first use (PEP 562): every command starts by importing this package, and `-V`,
# `validate` or `health` need neither the store backends nor the daemon's logging.
_LAZY = {
    "HealthPolicy": "modelmesh_healthd.state",
    "Outcome": "modelmesh_healthd.state",
    "ProviderState": "modelmesh_healthd.state",
    "SystemState": "modelmesh_healthd.state",
    "read_snapshot": "modelmesh_healthd.storage",
    "read_state": "modelmesh_healthd.storage",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
