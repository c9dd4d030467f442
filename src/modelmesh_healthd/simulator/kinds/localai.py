"""Simulated LocalAI: OpenAI-compatible `/v1/models`, one model by id, OpenAI error shapes."""

from __future__ import annotations

from modelmesh_healthd.simulator.kinds._base import OpenAIStyle

__all__ = ["SIM"]


class LocalAI(OpenAIStyle):
    """LocalAI's documented answers."""

    name = "localai"
    default_key = None
    models = ("gpt-4", "phi-2")


SIM = LocalAI()
