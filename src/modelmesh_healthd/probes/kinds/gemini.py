"""`gemini`: `GET {base}/v1beta/models` with `x-goog-api-key`.

The Gemini trap: a bad key is HTTP 400 `INVALID_ARGUMENT` with reason `API_KEY_INVALID`, not a
401. Its daily quota and its per-minute limit are both 429 `RESOURCE_EXHAUSTED`, told apart by
the QuotaFailure's quota id (`judge_error`).
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
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["DIALECT", "judge_gemini_list", "plan"]

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


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    h = headers(target)
    one = single(target)
    if one is not None:
        url = f"{base(target)}/v1beta/models/{quoted(gemini_name(one))}"
        return (Step("GET", url, h, judge_single_model, (one,)),)
    size = 1000 if target.models else 1
    url = f"{base(target)}/v1beta/models?pageSize={size}"
    return (Step("GET", url, h, judge_gemini_list, target.upstream_models),)
