"""`localai`: LocalAI. `GET {base}/readyz`, then `GET {base}/v1/models` (the loaded models).

`/readyz` answers 200 once LocalAI is ready to serve and is open without a key
(https://localai.io/features/api-discovery/ and the server's `/healthz`, `/readyz` routes); the
models list is OpenAI-compatible and is where a configured key is checked (then Bearer).
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import Dialect, judge_openai_list
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import base, headers
from modelmesh_healthd.probes.kinds.local import judge_local_health
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["DIALECT", "plan"]

DIALECT = Dialect("localai")


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    h = headers(target)
    ready = Step("GET", base(target) + "/readyz", h, judge_local_health)
    models = Step("GET", base(target) + "/v1/models", h, judge_openai_list, target.upstream_models)
    return (ready, models) if target.deep else (models,)
