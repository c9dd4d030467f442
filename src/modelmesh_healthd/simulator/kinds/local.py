"""Simulated vLLM / llama.cpp: open `/health`, `/v1/models` behind an optional key.

A model set `loading` in `model_states` plays llama.cpp's trap: `/health` answers 503
`Loading model` while `/v1/models` already answers 200."""

from __future__ import annotations

from collections.abc import Mapping

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import OpenAIStyle, loading_answer
from modelmesh_healthd.simulator.shapes import Answer, json_answer

__all__ = ["SIM"]


class Local(OpenAIStyle):
    """vLLM's and llama.cpp's documented answers."""

    name = "local"
    models = ("qwen2.5-7b-instruct",)
    open_paths = ("health",)  # like vLLM: /health is open even with --api-key

    def error(self, status: int, message: str) -> Answer:
        """llama.cpp's `{"error": {"code", "message", "type"}}`."""
        return json_answer(
            status, {"error": {"code": status, "message": message, "type": "server_error"}}
        )

    def bad_key(self, p: SimProvider) -> Answer:
        """401 `Invalid API Key`."""
        body = {
            "error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}
        }
        return json_answer(401, body)

    def unavailable(self, p: SimProvider) -> Answer:
        """vLLM's dead or draining engine: 503 with an empty body."""
        return Answer(503, b"", {}, "application/json")

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """`/health`, then the OpenAI-style routes."""
        if path == "health":
            if "loading" in p.model_states.values():
                return loading_answer()
            return json_answer(200, {"status": "ok"})
        return super().healthy(p, path, query)


SIM = Local()
