"""Simulated Groq: OpenAI-compatible `/v1/models`, one model by id, OpenAI error shapes."""

from __future__ import annotations

from modelmesh_healthd.simulator.kinds._base import OpenAIStyle

__all__ = ["SIM"]


class Groq(OpenAIStyle):
    """Groq's documented answers."""

    name = "groq"
    default_key = "gsk_sim_groq_0000"
    models = ("llama-3.3-70b-versatile", "mixtral-8x7b-32768")


SIM = Groq()
