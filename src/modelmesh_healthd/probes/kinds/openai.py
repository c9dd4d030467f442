"""`openai`: OpenAI and any OpenAI-compatible API whose base URL ends in its version (`/v1`).

`GET {base}/models` proves the key and lists the models; one configured model is looked up by
`GET {base}/models/{id}` (a 404 there means that model is missing). 429 means either a rate
limit or `insufficient_quota`: the error code tells (`judge_error`).
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import OPENAI_HEADROOM, Dialect, judge_single_model
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import get, openai_list, quoted, single
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["DIALECT", "plan"]

DIALECT = Dialect("openai", headroom=OPENAI_HEADROOM)


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    one = single(target)
    if one is not None:
        return (get(target, f"/models/{quoted(one)}", judge_single_model, (one,)),)
    return openai_list(target, "/models")
