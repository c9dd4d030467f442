"""`perplexity`: Perplexity. Its API has no models list; listing one's asynchronous jobs
(`GET {base}/async/chat/completions`) is free and authenticated, so it proves the key.
Models are not checked.
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import Dialect, judge_json_answer
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import get
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["DIALECT", "plan"]

DIALECT = Dialect("perplexity")


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    return (get(target, "/async/chat/completions", judge_json_answer),)
