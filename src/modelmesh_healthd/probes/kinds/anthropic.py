"""`anthropic`: `GET {base}/v1/models` with `x-api-key` and `anthropic-version`, then one free
`POST {base}/v1/messages/count_tokens` per configured model.

Anthropic says 529 when overloaded and 402 when billing stops; its list pages by `has_more`, so
a model not on the page read is left unjudged rather than called missing. Token counting is
free and goes through the inference front door with the model id: a 404 `not_found_error` there
is that model missing, a 529 `overloaded_error` that model overloaded, whatever its siblings do.
https://docs.anthropic.com/en/api/messages-count-tokens
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import (
    Dialect,
    Finding,
    Reply,
    judge_list,
    judge_single_model,
)
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import base, headers, quoted, single
from modelmesh_healthd.probes.kinds._rungs import PING, model_judge, model_rung
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["ANTHROPIC_VERSION", "DIALECT", "judge_anthropic_list", "judge_count_tokens", "plan"]

ANTHROPIC_VERSION = "2023-06-01"

DIALECT = Dialect(
    "anthropic",
    headroom=(
        ("anthropic-ratelimit-requests-remaining", "requests"),
        ("anthropic-ratelimit-tokens-remaining", "tokens"),
        ("anthropic-ratelimit-input-tokens-remaining", "input_tokens"),
        ("anthropic-ratelimit-output-tokens-remaining", "output_tokens"),
    ),
)


def judge_anthropic_list(
    reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
) -> Finding:
    """`GET /v1/models`: `{"data": [{"id", "type": "model"}], "has_more": bool, ...}`."""
    return judge_list(
        reply,
        dialect,
        models,
        now,
        field="data",
        keys=("id",),
        normalize=str,
        complete=lambda obj: obj.get("has_more") is not True,
    )


judge_count_tokens = model_judge(
    lambda obj: isinstance(obj.get("input_tokens"), int), "no `input_tokens`"
)
"""`POST /v1/messages/count_tokens`: `{"input_tokens": 8}`."""


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    h = headers(target, {"anthropic-version": ANTHROPIC_VERSION})
    one = single(target)
    if one is not None:
        url = f"{base(target)}/v1/models/{quoted(one)}"
        front = Step("GET", url, h, judge_single_model, (one,))
    else:
        limit = 1000 if target.models else 1
        url = f"{base(target)}/v1/models?limit={limit}"
        front = Step("GET", url, h, judge_anthropic_list, target.upstream_models)
    if not target.deep:
        return (front,)
    count = f"{base(target)}/v1/messages/count_tokens"
    rungs = (
        model_rung(
            count,
            h,
            {"model": m, "messages": [{"role": "user", "content": PING}]},
            model=m,
            judge=judge_count_tokens,
        )
        for m in target.upstream_models
    )
    return (front, *rungs)
