"""`azure-speech`: Azure AI Speech. The voices list (`GET {base}/cognitiveservices/voices/list`
with `Ocp-Apim-Subscription-Key`) is free and proves the key; synthesis would bill characters.
The base URL is the region's TTS host (`https://eastus.tts.speech.microsoft.com`).
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import Dialect, judge_json_answer
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import get
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = ["DIALECT", "plan"]

DIALECT = Dialect("azure-speech")


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    return (get(target, "/cognitiveservices/voices/list", judge_json_answer),)
