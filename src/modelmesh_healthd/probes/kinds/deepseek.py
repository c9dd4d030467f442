"""`deepseek`: DeepSeek. `GET {base}/models` (its documented path, no version segment) proves
the key and lists the models in OpenAI's shape. DeepSeek answers 402 when the balance is empty.
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import Dialect
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import openai_list
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["DIALECT", "plan"]

DIALECT = Dialect("deepseek")


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    return openai_list(target, "/models")
