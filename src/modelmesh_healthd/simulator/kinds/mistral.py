"""Simulated Mistral AI: OpenAI-compatible `/v1/models`, one model by id, OpenAI error shapes."""

from __future__ import annotations

from modelmesh_healthd.simulator.kinds._base import OpenAIStyle

__all__ = ["SIM"]


class Mistral(OpenAIStyle):
    """Mistral AI's documented answers."""

    name = "mistral"
    default_key = "mistral-sim-0000"
    models = ("mistral-large-latest", "mistral-small-latest")


SIM = Mistral()
