"""Simulated Ollama: `/api/version`, `/api/tags`, `/api/ps`, `POST /api/show`, and `POST
/api/chat` for the canary; no key; `{"error": "text"}` errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import SimKind, json_body
from modelmesh_healthd.simulator.kinds._chat import ollama_chat
from modelmesh_healthd.simulator.shapes import Answer, json_answer

__all__ = ["SIM"]


class Ollama(SimKind):
    """Ollama's documented answers."""

    name = "ollama"
    models = ("llama3.2:latest", "nomic-embed-text:latest")

    def key_ok(
        self, p: SimProvider, headers: Mapping[str, str], query: Mapping[str, str], path: str
    ) -> bool:
        """Ollama checks no key."""
        return True

    def error(self, status: int, message: str) -> Answer:
        """`{"error": "text"}`."""
        return json_answer(status, {"error": message})

    def bad_key(self, p: SimProvider) -> Answer:
        """401 from an authenticating proxy."""
        return json_answer(401, {"error": "unauthorized"})

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """The version and the tags (models)."""
        if path == "api/version":
            return json_answer(200, {"version": "0.5.7"})
        if path == "api/tags":
            tags: list[dict[str, Any]] = [
                {
                    "name": m,
                    "model": m,
                    "modified_at": "2025-01-01T00:00:00Z",
                    "size": 2019393189,
                    "digest": "sha256:sim",
                    "details": _DETAILS,
                }
                for m in p.listed
            ]
            return json_answer(200, {"models": tags})
        if path == "api/ps":
            # The models loaded now: the first one listed, kept alive for five minutes.
            loaded: list[dict[str, Any]] = [
                {
                    "name": m,
                    "model": m,
                    "size": 5137025024,
                    "digest": "sha256:sim",
                    "details": _DETAILS,
                    "expires_at": "2099-01-01T00:05:00Z",
                    "size_vram": 5137025024,
                }
                for m in p.listed[:1]
                if m not in p.model_states
            ]
            return json_answer(200, {"models": loaded})
        return None

    def model_not_found(self, p: SimProvider, name: str) -> Answer:
        """404 `{"error": "model 'x' not found"}`."""
        return json_answer(404, {"error": f"model '{name}' not found"})

    def overloaded(self, p: SimProvider) -> Answer:
        """503 when its queue is full (`OLLAMA_MAX_QUEUE`)."""
        msg = "server busy, please try again.  maximum pending requests exceeded"
        return json_answer(503, {"error": msg})

    def post(
        self, p: SimProvider, path: str, query: Mapping[str, str], body: bytes
    ) -> Answer | None:
        """`/api/show {"model"}`: the model's modelfile, parameters and details; `/api/chat`."""
        if path == "api/chat":
            return ollama_chat(self, p, json_body(body))
        if path != "api/show":
            return None
        name = json_body(body).get("model", json_body(body).get("name"))
        if not isinstance(name, str):
            return json_answer(400, {"error": "model is required"})
        full = name if ":" in name else f"{name}:latest"
        refused = self.model_answer(p, full)
        if refused is not None:
            return refused
        return json_answer(
            200,
            {
                "modelfile": f"FROM {full}\n",
                "parameters": 'stop "<|eot_id|>"',
                "template": "{{ .Prompt }}",
                "details": _DETAILS,
                "model_info": {"general.architecture": "llama"},
                "capabilities": ["completion"],
                "modified_at": "2025-01-01T00:00:00Z",
            },
        )


_DETAILS = {
    "parent_model": "",
    "format": "gguf",
    "family": "llama",
    "families": ["llama"],
    "parameter_size": "3.2B",
    "quantization_level": "Q4_K_M",
}


SIM = Ollama()
