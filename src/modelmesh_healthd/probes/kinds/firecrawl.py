"""`firecrawl`: Firecrawl. `GET {base}/v1/team/credit-usage` is free, proves the key and says
the credits left: none left is `quota_exhausted`, as a scrape would then fail.
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

__all__ = ["DIALECT", "judge_firecrawl_credits", "plan"]

DIALECT = Dialect("firecrawl")


def judge_firecrawl_credits(
    reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
) -> Finding:
    """`GET /v1/team/credit-usage`: `{"success": true, "data": {"remaining_credits": n}}`."""
    if not 200 <= reply.status <= 299:
        return judge_error(reply, dialect, now)
    if reply.truncated:
        return too_big(reply)
    obj = parse_json_object(reply.body)
    data = obj.get("data") if obj is not None else None
    if not isinstance(data, dict):
        return unexpected("no `data` object")
    remaining = data.get("remaining_credits")
    if isinstance(remaining, int | float) and not isinstance(remaining, bool):
        headroom = {"credits": float(remaining)}
        if remaining <= 0:
            return Finding(Outcome.QUOTA_EXHAUSTED, "no credits left", headroom=headroom)
        return Finding(Outcome.OK, headroom=headroom)
    return OK


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    return (get(target, "/v1/team/credit-usage", judge_firecrawl_credits),)
