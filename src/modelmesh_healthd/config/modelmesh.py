"""ModelMesh connector ids -> the probe kind that speaks their API.

Reading the rest of a ModelMesh file is `modelmesh_read`'s job; this module only says which
probe a connector id gets.
"""

from __future__ import annotations

__all__ = ["connector_kind"]

# connector id prefix -> (kind, default base URL or None for the kind's default)
_CONNECTORS: tuple[tuple[str, str, str | None], ...] = (
    ("azure", "azure-openai", None),
    ("microsoft.azure", "azure-openai", None),
    ("openai", "openai", None),
    ("anthropic", "anthropic", None),
    ("google.gemini", "gemini", None),
    ("gemini", "gemini", None),
    ("google", "gemini", None),
    ("openrouter", "openrouter", None),
    ("ollama", "ollama", None),
    ("vllm", "local", None),
    ("llamacpp", "local", None),
    ("llama.cpp", "local", None),
    ("llama-cpp", "local", None),
    ("groq", "openai", "https://api.groq.com/openai/v1"),
    ("mistral", "openai", "https://api.mistral.ai/v1"),
    ("together", "openai", "https://api.together.xyz/v1"),
    ("deepseek", "openai", "https://api.deepseek.com/v1"),
    ("fireworks", "openai", "https://api.fireworks.ai/inference/v1"),
    ("xai", "openai", "https://api.x.ai/v1"),
    ("localai", "openai", "http://127.0.0.1:8080/v1"),
    ("lmstudio", "openai", "http://127.0.0.1:1234/v1"),
    ("litellm", "openai", None),
)


def connector_kind(connector: str) -> tuple[str, str | None] | None:
    """The probe kind (and default base URL) for a ModelMesh connector id, e.g. `groq.v1`."""
    c = connector.lower()
    for prefix, kind, url in _CONNECTORS:
        if c == prefix or c.startswith((prefix + ".", prefix + "-")):
            return kind, url
    return None
