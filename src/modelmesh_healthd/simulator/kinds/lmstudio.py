"""Simulated LM Studio: OpenAI-compatible `/v1/models`, one model by id, OpenAI error shapes."""

from __future__ import annotations

from modelmesh_healthd.simulator.kinds._base import OpenAIStyle

__all__ = ["SIM"]


class LMStudio(OpenAIStyle):
    """LM Studio's documented answers."""

    name = "lmstudio"
    default_key = None
    models = ("qwen2.5-7b-instruct",)


SIM = LMStudio()
