"""Simulated Ollama: `/api/version`, `/api/tags`; no key; `{"error": "text"}` errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import SimKind
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
                    "details": {"format": "gguf", "family": "llama"},
                }
                for m in p.listed
            ]
            return json_answer(200, {"models": tags})
        return None


SIM = Ollama()
