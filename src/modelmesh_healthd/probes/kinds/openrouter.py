"""`openrouter`: `GET {base}/api/v1/key`, which proves the key and reports the credit left.

The models list needs no key, so it cannot prove one. Models are not checked (the list is
public and large).
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import (
    OK,
    Dialect,
    Finding,
    Reply,
    judge_error,
    parse_json_object,
    too_big,
    unexpected,
)
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import get
from modelmesh_healthd.probes.target import ProbeTarget
from modelmesh_healthd.state.outcome import Outcome

__all__ = ["DIALECT", "judge_openrouter_key", "plan"]

DIALECT = Dialect("openrouter")


def judge_openrouter_key(
    reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
) -> Finding:
    """`GET /api/v1/key`: `{"data": {"limit": n|null, "limit_remaining": n|null, "usage": n}}`.

    A key whose credit limit is used up (`limit_remaining` <= 0) is `quota_exhausted` even
    though this endpoint still answers 200: inference would answer 402.
    """
    if not 200 <= reply.status <= 299:
        return judge_error(reply, dialect, now)
    if reply.truncated:
        return too_big(reply)
    obj = parse_json_object(reply.body)
    data = obj.get("data") if obj is not None else None
    if not isinstance(data, dict):
        return unexpected("no `data` object")
    remaining = data.get("limit_remaining")
    if isinstance(remaining, int | float) and not isinstance(remaining, bool):
        headroom = {"credits": float(remaining)}
        if remaining <= 0:
            return Finding(Outcome.QUOTA_EXHAUSTED, "credit limit reached", headroom=headroom)
        return Finding(Outcome.OK, headroom=headroom)
    return OK


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    return (get(target, "/api/v1/key", judge_openrouter_key),)
