"""`assemblyai`: AssemblyAI. Listing one's transcripts (`GET {base}/v2/transcript?limit=1`) is
free and proves the key (sent bare in `authorization`, without `Bearer`). Models are not checked.
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import Dialect, judge_json_answer
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import get
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["DIALECT", "plan"]

DIALECT = Dialect("assemblyai")


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    return (get(target, "/v2/transcript?limit=1", judge_json_answer),)
