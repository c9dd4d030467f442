"""`anthropic`: `GET {base}/v1/models` with `x-api-key` and `anthropic-version`.

Anthropic says 529 when overloaded and 402 when billing stops; its list pages by `has_more`, so
a model not on the page read is left unjudged rather than called missing.
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
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["ANTHROPIC_VERSION", "DIALECT", "judge_anthropic_list", "plan"]

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


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    h = headers(target, {"anthropic-version": ANTHROPIC_VERSION})
    one = single(target)
    if one is not None:
        url = f"{base(target)}/v1/models/{quoted(one)}"
        return (Step("GET", url, h, judge_single_model, (one,)),)
    limit = 1000 if target.models else 1
    url = f"{base(target)}/v1/models?limit={limit}"
    return (Step("GET", url, h, judge_anthropic_list, target.upstream_models),)
