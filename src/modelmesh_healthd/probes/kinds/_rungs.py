"""The deeper rungs' shared parts: a per-model request and the judge of its answer.

A deeper rung names one model and costs nothing (Anthropic's `count_tokens`, Gemini's
`countTokens`, Ollama's `/api/show`). Its answer is about that model alone: a 404 is that model
missing, a 529/503 that model overloaded or loading (the engine keeps those per model, see
`engine.MODEL_SCOPED`); a bad key, a used-up quota or an outage is still the provider's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from modelmesh_healthd.probes.classifier import (
    Dialect,
    Finding,
    Judge,
    Reply,
    model_object,
    unexpected,
    with_headroom,
)
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.state.outcome import Outcome

__all__ = ["PING", "model_judge", "model_rung"]

PING = "ping"
"""The text a token-counting rung counts: a few tokens, never generated from."""


def model_judge(shape: Callable[[dict[str, Any]], bool], what: str) -> Judge:
    """A judge of a per-model rung whose 2xx answer is a JSON object `shape` accepts.

    Args:
        shape: True for a correct answer (`{"input_tokens": 3}` for Anthropic).
        what: What the answer lacks when `shape` refuses it, for the detail.

    Returns:
        The judge: `ok` with the model found; non-2xx through `judge_error` with the model
        named (404: that model missing). A 400 that is not about the key says only that this
        endpoint refuses this model (an embedding model cannot count chat tokens): the model
        stays unjudged rather than failing its provider.
    """

    def judge(reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float) -> Finding:
        model = models[0]
        obj = model_object(reply, dialect, model, now)
        if isinstance(obj, Finding):
            if reply.status == 400 and obj.outcome is Outcome.PROTOCOL_ERROR:
                return Finding(Outcome.OK, f"{model}: rung refused ({obj.detail})")
            return obj
        if obj is None or not shape(obj):
            return unexpected(what)
        return with_headroom(Finding(Outcome.OK, found=frozenset((model,))), reply, dialect)

    return judge


def model_rung(
    url: str, headers: Mapping[str, str], payload: dict[str, Any], *, model: str, judge: Judge
) -> Step:
    """`POST url` with `payload` as JSON, about `model` alone."""
    h = {**headers, "content-type": "application/json"}
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Step("POST", url, h, judge, (model,), content=body, model=model)
