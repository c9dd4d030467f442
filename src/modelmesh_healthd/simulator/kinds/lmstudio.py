"""Simulated LM Studio: OpenAI-compatible `/v1/models`, one model by id, OpenAI error shapes;
its own REST API's `/api/v0/models` and `/api/v0/models/{id}` with each model's `state`
(`not-loaded` for a model whose `model_states` entry is `not_loaded`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import OpenAIStyle
from modelmesh_healthd.simulator.shapes import Answer, json_answer

__all__ = ["SIM"]

_V0 = "api/v0/models"


class LMStudio(OpenAIStyle):
    """LM Studio's documented answers."""

    name = "lmstudio"
    default_key = None
    models = ("qwen2.5-7b-instruct", "meta-llama-3.1-8b-instruct")

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """The OpenAI-style routes, and the REST API's models with their load state."""
        if path == _V0:
            return json_answer(200, {"object": "list", "data": [_v0_model(p, m) for m in p.listed]})
        if path.startswith(_V0 + "/"):
            name = path.removeprefix(_V0 + "/")
            refused = self.model_answer(p, name)
            return refused if refused is not None else json_answer(200, _v0_model(p, name))
        return super().healthy(p, path, query)


def _v0_model(p: SimProvider, name: str) -> dict[str, Any]:
    """One model as `GET /api/v0/models/{model}` shows it (LM Studio's REST API reference)."""
    loaded = p.model_states.get(name) != "not_loaded"
    return {
        "id": name,
        "object": "model",
        "type": "llm",
        "publisher": "lmstudio-community",
        "arch": "qwen2" if name.startswith("qwen") else "llama",
        "compatibility_type": "gguf",
        "quantization": "Q4_K_M",
        "state": "loaded" if loaded else "not-loaded",
        "max_context_length": 32768,
    }


SIM = LMStudio()
