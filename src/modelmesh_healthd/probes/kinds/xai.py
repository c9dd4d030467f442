"""`xai`: xAI. `GET {base}/v1/models` proves the key and lists the models.

OpenAI-shaped models list; one model by `GET {base}/v1/models/{id}`.
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import Dialect, judge_single_model
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import get, openai_list, quoted, single
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["DIALECT", "plan"]

DIALECT = Dialect("xai")


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    one = single(target)
    if one is not None:
        return (get(target, f"/v1/models/{quoted(one)}", judge_single_model, (one,)),)
    return openai_list(target, "/v1/models")
