"""`lmstudio`: LM Studio's local server. `GET {base}/v1/models` answers (OpenAI-compatible);
with models and `deep`, then one `GET {base}/api/v0/models/{model}` per model.

LM Studio's own REST API (beta, 0.3.6 and later) reports each downloaded model's `state`,
`loaded` or `not-loaded` (https://lmstudio.ai/docs/app/api/endpoints/rest). A model that is not
loaded is judged as a model still loading: that model alone goes to standby (reason
`model_loading`), its siblings stay, and the next probe that finds it loaded brings it back.
A 404 there is that model missing. Neither endpoint generates anything.

No key unless one is configured (then Bearer).
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import (
    Dialect,
    Finding,
    Reply,
    judge_openai_list,
    model_object,
    unexpected,
)
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import base, get, headers, openai_list, quoted
from modelmesh_healthd.probes.target import ProbeTarget
from modelmesh_healthd.state.outcome import Outcome

__all__ = ["DIALECT", "judge_lmstudio_model", "plan"]

DIALECT = Dialect("lmstudio")


def judge_lmstudio_model(
    reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
) -> Finding:
    """`GET /api/v0/models/{model}`: `{"id", "type", "state": "loaded" | "not-loaded", ...}`."""
    model = models[0]
    obj = model_object(reply, dialect, model, now)
    if isinstance(obj, Finding):
        return obj
    state = obj.get("state") if obj is not None else None
    if state == "loaded":
        return Finding(Outcome.OK, found=frozenset((model,)))
    if state == "not-loaded":
        return Finding(Outcome.LOADING, "not loaded (LM Studio state not-loaded)")
    return unexpected("no `state` of `loaded` or `not-loaded`")


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    if target.models and target.deep:
        # The list proves the server and the key; each model's presence and load state is its
        # own rung's to say (a list check first would skip the rung of a model it lacks).
        front = get(target, "/v1/models", judge_openai_list)
        h = headers(target)
        rungs = (
            Step(
                "GET",
                f"{base(target)}/api/v0/models/{quoted(m)}",
                h,
                judge_lmstudio_model,
                (m,),
                model=m,
            )
            for m in target.upstream_models
        )
        return (front, *rungs)
    return openai_list(target, "/v1/models")
