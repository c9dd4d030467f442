"""Simulated DeepSeek: `GET /models` (no version segment), OpenAI's shapes, 402 when broke."""

from __future__ import annotations

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import OpenAIStyle
from modelmesh_healthd.simulator.shapes import Answer, openai_error

__all__ = ["SIM"]


class DeepSeek(OpenAIStyle):
    """DeepSeek's documented answers."""

    name = "deepseek"
    default_key = "sk-sim-deepseek-0000"
    models = ("deepseek-chat", "deepseek-reasoner")
    models_path = "models"

    def payment_required(self, p: SimProvider) -> Answer:
        """402 `Insufficient Balance`."""
        return openai_error(402, "Insufficient Balance", "unknown_error", "invalid_request_error")

    def insufficient_quota(self, p: SimProvider) -> Answer:
        """DeepSeek says an empty balance with 402."""
        return self.payment_required(p)


SIM = DeepSeek()
