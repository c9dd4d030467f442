"""`cohere`: Cohere. `GET {base}/v1/models` proves the key and lists the models by `name`,
paged by `next_page_token` (a model not on the page read is left unjudged).
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import Dialect, Finding, Reply, judge_list
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import get
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["DIALECT", "judge_cohere_models", "plan"]

DIALECT = Dialect("cohere")


def judge_cohere_models(
    reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
) -> Finding:
    """`GET /v1/models`: `{"models": [{"name": "command-r", ...}], "next_page_token"?}`."""
    return judge_list(
        reply,
        dialect,
        models,
        now,
        field="models",
        keys=("name",),
        complete=lambda obj: not obj.get("next_page_token"),
    )


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    size = 1000 if target.models else 1
    path = f"/v1/models?page_size={size}"
    return (get(target, path, judge_cohere_models, target.upstream_models),)
