"""Simulated Together AI: `/v1/models` as a bare JSON array, OpenAI's error shapes."""

from __future__ import annotations

from typing import Any

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import OpenAIStyle

__all__ = ["SIM"]


class Together(OpenAIStyle):
    """Together AI's documented answers."""

    name = "together"
    default_key = "together-sim-0000"
    models = ("meta-llama/Llama-3.3-70B-Instruct-Turbo", "Qwen/Qwen2.5-72B-Instruct-Turbo")

    def models_list(self, p: SimProvider) -> Any:
        """`[{"id", "object": "model", "type": "chat", ...}, ...]`."""
        return [{"id": m, "object": "model", "type": "chat", "created": 0} for m in p.listed]


SIM = Together()
