"""`elevenlabs`: ElevenLabs. `GET {base}/v1/models` with `xi-api-key` proves the key and lists
the models as a bare JSON array of `{"model_id": ...}`.
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import Dialect, Finding, Reply, judge_list
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import get
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["DIALECT", "judge_elevenlabs_models", "plan"]

DIALECT = Dialect("elevenlabs")


def judge_elevenlabs_models(
    reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
) -> Finding:
    """`GET /v1/models`: `[{"model_id": "eleven_multilingual_v2", "name": ...}, ...]`."""
    return judge_list(reply, dialect, models, now, field=None, keys=("model_id",))


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    return (get(target, "/v1/models", judge_elevenlabs_models, target.upstream_models),)
