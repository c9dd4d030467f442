"""Simulated LocalAI: open `/readyz`, OpenAI-compatible `/v1/models`, OpenAI error shapes."""

from __future__ import annotations

from collections.abc import Mapping

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import OpenAIStyle, loading_answer
from modelmesh_healthd.simulator.shapes import Answer

__all__ = ["SIM"]


class LocalAI(OpenAIStyle):
    """LocalAI's documented answers."""

    name = "localai"
    default_key = None
    models = ("gpt-4", "phi-2")
    open_paths = ("readyz", "healthz")

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """`/readyz` (200 `OK` once ready), then the OpenAI-style routes."""
        if path in ("readyz", "healthz"):
            if "loading" in p.model_states.values():
                return loading_answer()
            return Answer(200, b"OK", {}, "text/plain; charset=utf-8")
        return super().healthy(p, path, query)


SIM = LocalAI()
