"""`http`: any endpoint, judged by expected statuses and body/header conditions (`HttpOptions`)."""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import PLAIN, Dialect, Finding, Judge, Reply, judge_http
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import base, headers
from modelmesh_healthd.probes.target import HttpOptions, ProbeTarget

__all__ = ["DIALECT", "OPTIONS", "plan"]

DIALECT = PLAIN
OPTIONS = HttpOptions


class _HttpJudge:
    __slots__ = ("options",)

    def __init__(self, options: HttpOptions) -> None:
        self.options = options

    def __call__(
        self, reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
    ) -> Finding:
        return judge_http(reply, self.options, now)


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    opts = target.options if isinstance(target.options, HttpOptions) else HttpOptions()
    h = {**headers(target), **opts.headers}
    judge: Judge = _HttpJudge(opts)
    return (
        Step(
            opts.method.upper(),
            base(target) + opts.path,
            h,
            judge,
            content=opts.content,
            follow_redirects=opts.follow_redirects,
            max_redirects=opts.max_redirects,
        ),
    )
