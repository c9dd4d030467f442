"""`firecrawl`: Firecrawl. `GET {base}/v1/team/credit-usage` is free, proves the key and says
the credits left: none left is `quota_exhausted`, as a scrape would then fail.
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import Dialect
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import credit_balance_judge, get
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["DIALECT", "judge_firecrawl_credits", "plan"]

DIALECT = Dialect("firecrawl")


judge_firecrawl_credits = credit_balance_judge("remaining_credits", "no credits left")
"""The balance answer: `data.remaining_credits` <= 0 is `quota_exhausted`."""


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    return (get(target, "/v1/team/credit-usage", judge_firecrawl_credits),)
