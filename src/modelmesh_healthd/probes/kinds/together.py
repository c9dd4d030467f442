"""`together`: Together AI. `GET {base}/v1/models` proves the key; unlike OpenAI's, the answer
is a bare JSON array of model objects (`[{"id": ...}, ...]`).
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import (
    OPENAI_HEADROOM,
    Dialect,
    Finding,
    Reply,
    judge_list,
)
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import get
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["DIALECT", "judge_together_models", "plan"]

DIALECT = Dialect("together", headroom=OPENAI_HEADROOM)


def judge_together_models(
    reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
) -> Finding:
    """`GET /v1/models`: `[{"id": "meta-llama/...", "type": "chat", ...}, ...]`."""
    return judge_list(reply, dialect, models, now, field=None, keys=("id",))


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    return (get(target, "/v1/models", judge_together_models, target.upstream_models),)
