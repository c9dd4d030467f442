"""`openrouter`: `GET {base}/api/v1/key`, which proves the key and reports the credit left.

The models list needs no key, so it cannot prove one. Models are not checked (the list is
public and large).
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import Dialect
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import credit_balance_judge, get
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["DIALECT", "judge_openrouter_key", "plan"]

DIALECT = Dialect("openrouter")


judge_openrouter_key = credit_balance_judge("limit_remaining", "credit limit reached")
"""The balance answer: `data.limit_remaining` <= 0 is `quota_exhausted`."""


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    return (get(target, "/api/v1/key", judge_openrouter_key),)
