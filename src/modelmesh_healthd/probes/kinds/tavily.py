"""`tavily`: Tavily. `GET {base}/usage` is free, proves the key and reports the key's credit
use against its limit: a key at its limit is `quota_exhausted`.
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

__all__ = ["DIALECT", "judge_tavily_usage", "plan"]

# Tavily's own statuses: 432 (key or plan usage limit), 433 (pay-as-you-go limit).
DIALECT = Dialect("tavily", quota_statuses=frozenset({432, 433}))


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def judge_tavily_usage(
    reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
) -> Finding:
    """`GET /usage`: `{"key": {"usage": n, "limit": n|null}, "account": {...}}`."""
    if not 200 <= reply.status <= 299:
        return judge_error(reply, dialect, now)
    if reply.truncated:
        return too_big(reply)
    obj = parse_json_object(reply.body)
    key = obj.get("key") if obj is not None else None
    if not isinstance(key, dict):
        return unexpected("no `key` object")
    usage, limit = _number(key.get("usage")), _number(key.get("limit"))
    if usage is None or limit is None:
        return OK  # a key without a limit
    headroom = {"credits": limit - usage}
    if usage >= limit:
        return Finding(Outcome.QUOTA_EXHAUSTED, "key credit limit reached", headroom=headroom)
    return Finding(Outcome.OK, headroom=headroom)


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    return (get(target, "/usage", judge_tavily_usage),)
