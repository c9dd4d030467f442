"""The one registry of provider kinds and ModelMesh connectors, read by every layer.

Adding a kind: one `KindSpec` line here, its probe module `probes/kinds/<module>.py`, its
simulator answers `simulator/kinds/<module>.py`, and its tests. Configuration reads the specs
(names, defaults, keys); probes and the simulator resolve their module of each kind once, by
name, the way uvicorn resolves its registries.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from modelmesh_healthd.kinds.spec import ConnectorSpec, KindSpec

__all__ = [
    "CONNECTORS",
    "KINDS",
    "UNSUPPORTED",
    "connector_kind",
    "connector_url",
    "kind_names",
    "kind_spec",
]

UNSUPPORTED = "unsupported"
"""The kind of a provider with no free authenticated endpoint: never probed, never deactivated."""

_BEARER = "Bearer "

_SPECS: tuple[KindSpec, ...] = (
    KindSpec("openai", "openai", "OpenAI and OpenAI-compatible APIs (base URL ends in /v1)",
             "https://api.openai.com/v1", "authorization", _BEARER, key_required=True,
             docs="https://platform.openai.com/docs/api-reference/models/list"),
    KindSpec("anthropic", "anthropic", "Anthropic Claude", "https://api.anthropic.com",
             "x-api-key", key_required=True,
             docs="https://docs.anthropic.com/en/api/models-list"),
    KindSpec("gemini", "gemini", "Google Gemini API", "https://generativelanguage.googleapis.com",
             "x-goog-api-key", key_required=True,
             docs="https://ai.google.dev/api/models#method:-models.list"),
    KindSpec("openrouter", "openrouter", "OpenRouter (key and credit check)",
             "https://openrouter.ai", "authorization", _BEARER, key_required=True,
             docs="https://openrouter.ai/docs/api-reference/api-keys/get-current-key"),
    KindSpec("azure-openai", "azure_openai", "Azure OpenAI resource", None, "api-key",
             key_required=True, option="api_version",
             docs="https://learn.microsoft.com/en-us/rest/api/azureopenai/models/list"),
    KindSpec("ollama", "ollama", "Ollama (a key, if set, is for a proxy in front)",
             "http://127.0.0.1:11434", "authorization", _BEARER,
             docs="https://github.com/ollama/ollama/blob/main/docs/api.md#version"),
    KindSpec("local", "local", "vLLM, llama.cpp and other local OpenAI-compatible servers", None,
             "authorization", _BEARER, option="health_path",
             docs="https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html"),
    KindSpec("http", "http", "Any HTTP endpoint with expected statuses and conditions", None,
             "authorization", _BEARER, option="http"),
    KindSpec("groq", "groq", "Groq", "https://api.groq.com/openai", "authorization", _BEARER,
             key_required=True, docs="https://console.groq.com/docs/api-reference#models-list"),
    KindSpec("mistral", "mistral", "Mistral AI", "https://api.mistral.ai", "authorization",
             _BEARER, key_required=True,
             docs="https://docs.mistral.ai/api/#tag/models/operation/list_models_v1_models_get"),
    KindSpec("deepseek", "deepseek", "DeepSeek", "https://api.deepseek.com", "authorization",
             _BEARER, key_required=True, docs="https://api-docs.deepseek.com/api/list-models"),
    KindSpec("together", "together", "Together AI", "https://api.together.xyz", "authorization",
             _BEARER, key_required=True, docs="https://docs.together.ai/reference/models-1"),
    KindSpec("xai", "xai", "xAI Grok", "https://api.x.ai", "authorization", _BEARER,
             key_required=True, docs="https://docs.x.ai/docs/api-reference#list-models"),
    KindSpec("cohere", "cohere", "Cohere", "https://api.cohere.com", "authorization", _BEARER,
             key_required=True, docs="https://docs.cohere.com/reference/list-models"),
    KindSpec("perplexity", "perplexity", "Perplexity (lists async jobs: free)",
             "https://api.perplexity.ai", "authorization", _BEARER, key_required=True,
             docs="https://docs.perplexity.ai/api-reference/async-chat-completions-get"),
    KindSpec("elevenlabs", "elevenlabs", "ElevenLabs text to speech", "https://api.elevenlabs.io",
             "xi-api-key", key_required=True,
             docs="https://elevenlabs.io/docs/api-reference/models/list"),
    KindSpec("assemblyai", "assemblyai", "AssemblyAI speech to text",
             "https://api.assemblyai.com", "authorization", key_required=True,
             docs="https://www.assemblyai.com/docs/api-reference/transcripts/list"),
    KindSpec("azure-speech", "azure_speech", "Azure AI Speech text to speech (voices list)",
             "https://eastus.tts.speech.microsoft.com", "ocp-apim-subscription-key",
             key_required=True,
             docs="https://learn.microsoft.com/en-us/azure/ai-services/speech-service/"
             "rest-text-to-speech#get-a-list-of-voices"),
    KindSpec("firecrawl", "firecrawl", "Firecrawl (credit usage)", "https://api.firecrawl.dev",
             "authorization", _BEARER, key_required=True,
             docs="https://docs.firecrawl.dev/api-reference/v1-endpoint/credit-usage"),
    KindSpec("tavily", "tavily", "Tavily (key usage)", "https://api.tavily.com",
             "authorization", _BEARER, key_required=True,
             docs="https://docs.tavily.com/documentation/api-reference/endpoint/usage"),
    KindSpec("lmstudio", "lmstudio", "LM Studio's local server", "http://localhost:1234",
             "authorization", _BEARER,
             docs="https://lmstudio.ai/docs/app/api/endpoints/openai"),
    KindSpec("localai", "localai", "LocalAI", "http://localhost:8080", "authorization", _BEARER,
             docs="https://localai.io/docs/features/api-discovery/"),
    KindSpec(UNSUPPORTED, "", "No free authenticated endpoint: never probed, never deactivated",
             None, None, probed=False),
)  # fmt: skip

KINDS: Mapping[str, KindSpec] = MappingProxyType({s.name: s for s in _SPECS})
"""Every kind by name, in registry order."""

_UNPAID = "every documented endpoint bills per request and none checks a key for free"

_CONNECTORS: tuple[ConnectorSpec, ...] = (
    ConnectorSpec("openai.llm.v1", "openai", "https://api.openai.com", append="/v1"),
    ConnectorSpec("anthropic.claude.v1", "anthropic", "https://api.anthropic.com"),
    ConnectorSpec("google.gemini.v1", "gemini", "https://generativelanguage.googleapis.com"),
    ConnectorSpec("openrouter.gateway.v1", "openrouter", "https://openrouter.ai/api", strip="/api"),
    ConnectorSpec("groq.api.v1", "groq", "https://api.groq.com/openai"),
    ConnectorSpec("mistral.api.v1", "mistral", "https://api.mistral.ai"),
    ConnectorSpec("deepseek.api.v1", "deepseek", "https://api.deepseek.com"),
    ConnectorSpec("together.api.v1", "together", "https://api.together.xyz"),
    ConnectorSpec("xai.grok.v1", "xai", "https://api.x.ai"),
    ConnectorSpec("cohere.nlp.v1", "cohere", "https://api.cohere.com"),
    ConnectorSpec("perplexity.search.v1", "perplexity", "https://api.perplexity.ai"),
    ConnectorSpec("ollama.local.v1", "ollama", "http://localhost:11434"),
    ConnectorSpec("vllm.local.v1", "local", "http://localhost:8000"),
    ConnectorSpec("lmstudio.local.v1", "lmstudio", "http://localhost:1234"),
    ConnectorSpec("localai.local.v1", "localai", "http://localhost:8080"),
    ConnectorSpec("elevenlabs.tts.v1", "elevenlabs", "https://api.elevenlabs.io"),
    ConnectorSpec("assemblyai.stt.v1", "assemblyai", "https://api.assemblyai.com"),
    ConnectorSpec("azure.tts.v1", "azure-speech", "https://eastus.tts.speech.microsoft.com"),
    ConnectorSpec("firecrawl.scrape.v1", "firecrawl", "https://api.firecrawl.dev"),
    ConnectorSpec("tavily.search.v1", "tavily", "https://api.tavily.com"),
    ConnectorSpec("jina.ai.v1", None, "https://api.jina.ai", reason=_UNPAID),
    ConnectorSpec("serper.search.v1", None, "https://google.serper.dev", reason=_UNPAID),
)

CONNECTORS: Mapping[str, ConnectorSpec] = MappingProxyType({c.id: c for c in _CONNECTORS})
"""ModelMesh's provider connectors by id."""

# Connector ids that are not in ModelMesh's registry but name a provider plainly (`groq.v1`,
# `azure.openai.v1`, `llama.cpp`): prefix -> (kind, base URL in the kind's terms or None for
# the kind's default). Exact registry ids are looked up first.
_ALIASES: tuple[tuple[str, str, str | None], ...] = (
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
    ("groq", "groq", None),
    ("mistral", "mistral", None),
    ("together", "together", None),
    ("deepseek", "deepseek", None),
    ("xai", "xai", None),
    ("cohere", "cohere", None),
    ("perplexity", "perplexity", None),
    ("elevenlabs", "elevenlabs", None),
    ("assemblyai", "assemblyai", None),
    ("firecrawl", "firecrawl", None),
    ("tavily", "tavily", None),
    ("lmstudio", "lmstudio", None),
    ("localai", "localai", None),
    ("fireworks", "openai", "https://api.fireworks.ai/inference/v1"),
    ("litellm", "openai", None),
)


def kind_names() -> tuple[str, ...]:
    """Every kind name, in registry order."""
    return tuple(KINDS)


def kind_spec(name: str) -> KindSpec:
    """The spec of kind `name`.

    Raises:
        KeyError: No such kind.
    """
    return KINDS[name]


def connector_kind(connector: str) -> tuple[str, str | None] | None:
    """The kind (and its default base URL, None for the kind's own) for a ModelMesh connector.

    Args:
        connector: A connector id, e.g. `groq.api.v1` (exact) or `groq.v1` (by its prefix).

    Returns:
        (kind, base URL in the kind's terms or None), `unsupported` for a known connector that
        cannot be probed for free, or None for an unknown connector.
    """
    spec = CONNECTORS.get(connector)
    if spec is not None:
        if spec.kind is None:
            return UNSUPPORTED, spec.base_url
        return spec.kind, spec.kind_url(spec.base_url)
    c = connector.lower()
    for prefix, kind, url in _ALIASES:
        if c == prefix or c.startswith((prefix + ".", prefix + "-")):
            return kind, url
    return None


def connector_url(connector: str, modelmesh_url: str) -> str:
    """A user's ModelMesh `base_url` for `connector`, in the terms of its kind.

    ModelMesh appends `/v1/...` to its base URLs; `openai`'s base URL holds the `/v1` and
    `openrouter`'s does not hold ModelMesh's `/api`. Unknown connectors keep the URL as given.
    """
    spec = CONNECTORS.get(connector)
    return spec.kind_url(modelmesh_url) if spec is not None else modelmesh_url
