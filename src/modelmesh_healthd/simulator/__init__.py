"""A local simulator of AI providers, for tests, the benchmark and the `demo` command.

    async with Simulator() as sim:               # one provider of each kind
        sim.url("openai")                        # http://127.0.0.1:PORT/openai/v1
        sim.set_behaviour("openai", "insufficient_quota")
        sim.requests("openai")                   # requests it received

Also driven over HTTP (`PUT /_sim/providers/<name>` with `{"behaviour": ..., ...}`), by a
scripted `Scenario`, and from the command line: `python -m modelmesh_healthd.simulator`.
"""

from typing import TYPE_CHECKING

from modelmesh_healthd._lazy import lazy_exports

if TYPE_CHECKING:
    from modelmesh_healthd.simulator.behaviours import KINDS, STREAMING, Behaviour, SimProvider
    from modelmesh_healthd.simulator.defaults import DEFAULT_KEYS, default_providers
    from modelmesh_healthd.simulator.inprocess import CONNECTION_LEVEL, InProcessSimulator
    from modelmesh_healthd.simulator.scenario import Scenario, ScenarioError, ScenarioStep
    from modelmesh_healthd.simulator.server import LOG_EVENTS, SETTABLE, Simulator

__all__ = [
    "CONNECTION_LEVEL",
    "DEFAULT_KEYS",
    "KINDS",
    "LOG_EVENTS",
    "SETTABLE",
    "STREAMING",
    "Behaviour",
    "InProcessSimulator",
    "Scenario",
    "ScenarioError",
    "ScenarioStep",
    "SimProvider",
    "Simulator",
    "default_providers",
]

# Each name's module is imported on first use (PEP 562): importing one module of this package
# runs this file first, and should not cost every other module's import.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "behaviours": ("KINDS", "STREAMING", "Behaviour", "SimProvider"),
        "defaults": ("DEFAULT_KEYS", "default_providers"),
        "inprocess": ("CONNECTION_LEVEL", "InProcessSimulator"),
        "scenario": ("Scenario", "ScenarioError", "ScenarioStep"),
        "server": ("LOG_EVENTS", "SETTABLE", "Simulator"),
    },
)
