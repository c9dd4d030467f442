"""`lmstudio`: LM Studio's local server. `GET {base}/v1/models` answers and lists the loaded models.

OpenAI-compatible; no key unless one is configured (then Bearer).
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import Dialect
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import openai_list
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["DIALECT", "plan"]

DIALECT = Dialect("lmstudio")


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    return openai_list(target, "/v1/models")
