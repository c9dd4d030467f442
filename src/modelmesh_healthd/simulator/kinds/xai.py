"""Simulated xAI: OpenAI-compatible `/v1/models`, one model by id, OpenAI error shapes."""

from __future__ import annotations

from modelmesh_healthd.simulator.kinds._base import OpenAIStyle

__all__ = ["SIM"]


class XAI(OpenAIStyle):
    """xAI's documented answers."""

    name = "xai"
    default_key = "xai-sim-0000"
    models = ("grok-2-latest", "grok-beta")


SIM = XAI()
