"""modelmesh-healthd: the health daemon for ModelMesh provider pools.

For routers in other processes, the persisted state is one call away::

    from modelmesh_healthd import read_state
    state = await read_state("sqlite:////var/lib/modelmesh-healthd/state.db")
    state.pools["chat-completion"].active_models      # the models to route to now
"""

__version__ = "0.1.0.dev0"  # first: the modules imported below read it

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
