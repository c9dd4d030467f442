"""`gemini`: `GET {base}/v1beta/models` with `x-goog-api-key`.

The Gemini trap: a bad key is HTTP 400 `INVALID_ARGUMENT` with reason `API_KEY_INVALID`, not a
401. Its daily quota and its per-minute limit are both 429 `RESOURCE_EXHAUSTED`, told apart by
the QuotaFailure's quota id (`judge_error`).

With models configured, one free `POST {base}/v1beta/models/{m}:countTokens` per model follows
the list: it proves the model id answers on the generation front door (404: that model missing;
503: that model overloaded). https://ai.google.dev/api/tokens#method:-models.counttokens
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import (
    Dialect,
    ErrorInfo,
    Finding,
    Reply,
    judge_list,
    judge_single_model,
)
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import base, gemini_name, headers, quoted, single
from modelmesh_healthd.probes.kinds._rungs import PING, model_judge, model_rung
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["DIALECT", "judge_count_tokens", "judge_gemini_list", "plan"]

_GOOGLE_BAD_KEY = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED"})


def _bad_key_400(reply: Reply, info: ErrorInfo) -> bool:
    if _GOOGLE_BAD_KEY.intersection(info.reasons):
        return True
    return info.status == "INVALID_ARGUMENT" and not info.reasons and b"API key" in reply.body


DIALECT = Dialect("gemini", bad_key_400=_bad_key_400)


def judge_gemini_list(
    reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
) -> Finding:
    """`GET /v1beta/models`: `{"models": [{"name": "models/..."}], "nextPageToken"?}`."""
    return judge_list(
        reply,
        dialect,
        models,
        now,
        field="models",
        keys=("name",),
        normalize=gemini_name,
        complete=lambda obj: not obj.get("nextPageToken"),
    )


judge_count_tokens = model_judge(
    lambda obj: isinstance(obj.get("totalTokens"), int), "no `totalTokens`"
)
"""`POST /v1beta/models/{m}:countTokens`: `{"totalTokens": 3, ...}`."""


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    h = headers(target)
    one = single(target)
    if one is not None:
        url = f"{base(target)}/v1beta/models/{quoted(gemini_name(one))}"
        front = Step("GET", url, h, judge_single_model, (one,))
    else:
        size = 1000 if target.models else 1
        url = f"{base(target)}/v1beta/models?pageSize={size}"
        front = Step("GET", url, h, judge_gemini_list, target.upstream_models)
    if not target.deep:
        return (front,)
    payload = {"contents": [{"role": "user", "parts": [{"text": PING}]}]}
    rungs = (
        model_rung(
            f"{base(target)}/v1beta/models/{quoted(gemini_name(m))}:countTokens",
            h,
            payload,
            model=m,
            judge=judge_count_tokens,
        )
        for m in target.upstream_models
    )
    return (front, *rungs)
