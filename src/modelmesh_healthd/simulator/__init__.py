"""A local simulator of AI providers, for tests, the benchmark and the `demo` command.

    async with Simulator() as sim:               # one provider of each kind
        sim.url("openai")                        # http://127.0.0.1:PORT/openai/v1
        sim.set_behaviour("openai", "insufficient_quota")
        sim.requests("openai")                   # requests it received

Also driven over HTTP (`PUT /_sim/providers/<name>` with `{"behaviour": ..., ...}`), by a
scripted `Scenario`, and from the command line: `python -m modelmesh_healthd.simulator`.
"""

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
