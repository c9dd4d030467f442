"""One simulated provider of each kind, with fixed fake keys and plausible model lists."""

from __future__ import annotations

from modelmesh_healthd.simulator.behaviours import SimProvider

__all__ = ["DEFAULT_KEYS", "default_providers"]

DEFAULT_KEYS: dict[str, str | None] = {
    "openai": "sk-sim-openai-0000",
    "anthropic": "sk-ant-sim-0000",
    "gemini": "AIzaSim-gemini-0000",
    "openrouter": "sk-or-v1-sim-0000",
    "azure-openai": "azure-sim-key-0000",
    "ollama": None,
    "local": None,
    "http": None,
}
"""The key each default provider accepts (None: no key)."""

_MODELS: dict[str, tuple[str, ...]] = {
    "openai": ("gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "o3-mini"),
    "anthropic": ("claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022"),
    "gemini": ("gemini-2.0-flash", "gemini-1.5-pro", "text-embedding-004"),
    "openrouter": ("openai/gpt-4o", "anthropic/claude-3.5-sonnet"),
    "azure-openai": ("gpt-4o", "gpt-4o-mini"),
    "ollama": ("llama3.2:latest", "nomic-embed-text:latest"),
    "local": ("qwen2.5-7b-instruct",),
    "http": (),
}


def default_providers() -> list[SimProvider]:
    """Fresh providers, one per kind, each named after its kind.

    Returns:
        New `SimProvider` objects (healthy), safe to mutate.
    """
    return [
        SimProvider(name=kind, kind=kind, api_key=DEFAULT_KEYS[kind], models=models)
        for kind, models in _MODELS.items()
    ]
