"""The canary's request: one minimal completion, sized per model family, in the kind's shape.

Pure. The trap (PROVIDERS.md): a `max_tokens: 1` completion on a reasoning model fails or
burns hidden reasoning tokens (LiteLLM #13668: 977 tokens for one probe, 950 of them
reasoning). So each family gets an output allowance that reasoning cannot use up, and the
reasoning itself is turned down where the API allows (`reasoning_effort`, Gemini's
`thinkingBudget`). The worst case (the whole allowance billed) is what the budget checks before
anything is sent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from modelmesh_healthd.kinds import kind_spec
from modelmesh_healthd.probes.target import AzureOptions, ProbeTarget

__all__ = [
    "CANARY_KINDS",
    "MODEL_ROUTED",
    "PROMPT",
    "PROMPT_TOKENS_BOUND",
    "Allowance",
    "CanaryRequest",
    "Price",
    "allowance_for",
    "build_request",
    "is_costly",
]

PROMPT = "Reply with the single word: ok"
PROMPT_TOKENS_BOUND = 64
"""An upper bound of the prompt's billed tokens (chat template included), for the worst case."""

_OPENAI_PATHS = {
    "openai": "/chat/completions",
    "deepseek": "/chat/completions",
    "openrouter": "/api/v1/chat/completions",
    "groq": "/v1/chat/completions",
    "mistral": "/v1/chat/completions",
    "xai": "/v1/chat/completions",
    "together": "/v1/chat/completions",
    "local": "/v1/chat/completions",
    "lmstudio": "/v1/chat/completions",
    "localai": "/v1/chat/completions",
}
CANARY_KINDS = frozenset({*_OPENAI_PATHS, "anthropic", "gemini", "azure-openai", "ollama"})
"""Kinds the canary can speak; a provider of another kind gets no canary."""

MODEL_ROUTED = frozenset({"gemini", "azure-openai", "ollama"})
"""Kinds whose completion endpoint is the model's own (in the URL: Gemini's model, Azure's
deployment; Ollama's `/api/chat` 404s only for a model it lacks): a 404 there is that model
missing, not a wrong base URL."""

_COSTLY_ENDINGS = (
    "/chat/completions",
    "/completions",
    "/messages",
    "/responses",
    "/embeddings",
    "/rerank",
    "/api/generate",
    "/api/chat",
    "/api/embed",
    "/api/embeddings",
    ":generateContent",
    ":streamGenerateContent",
    ":embedContent",
    ":batchEmbedContents",
    "/text-to-speech",
)


def is_costly(method: str, url: str) -> bool:
    """Whether a request generates (and bills tokens): a completion, a message, generated
    content, an embedding, speech. Every such endpoint is a POST; lists, token counts and
    Perplexity's `GET /async/chat/completions` (a list of one's jobs) are not."""
    if method.upper() != "POST":
        return False
    path = urlsplit(url).path.rstrip("/")
    if "/text-to-speech/" in path:
        return True
    return path.endswith(_COSTLY_ENDINGS)


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input_usd_per_mtok: float
    output_usd_per_mtok: float

    def cost(self, prompt_tokens: int, output_tokens: int) -> float:
        """USD for that usage (reasoning tokens bill as output)."""
        return (
            prompt_tokens * self.input_usd_per_mtok + output_tokens * self.output_usd_per_mtok
        ) / 1e6


@dataclass(frozen=True, slots=True)
class Allowance:
    """How much one canary may generate, and how its reasoning is turned down.

    Attributes:
        max_output: The output token cap sent (reasoning included where the API counts it so).
        reasoning: The family reasons before answering.
        openai_effort: `reasoning_effort` to send (OpenAI-style), or None.
        gemini_thinking: Gemini's `thinkingBudget`, or None to leave it unset.
    """

    max_output: int
    reasoning: bool = False
    openai_effort: str | None = None
    gemini_thinking: int | None = None


_PLAIN = Allowance(16)
_FAMILIES: tuple[tuple[re.Pattern[str], Allowance], ...] = (
    (re.compile(r"(^|/)gpt-5"), Allowance(1024, reasoning=True, openai_effort="minimal")),
    (re.compile(r"(^|/)o[34](-|$)"), Allowance(1024, reasoning=True, openai_effort="low")),
    (re.compile(r"(^|/)o1(-|$)"), Allowance(2048, reasoning=True)),
    (re.compile(r"gemini-2\.5-pro|gemini-3"), Allowance(1024, reasoning=True, gemini_thinking=128)),
    (re.compile(r"gemini-2\.5-flash"), Allowance(1024, reasoning=True, gemini_thinking=0)),
    (
        re.compile(
            r"deepseek-reasoner|(^|[-/])r1([-:]|$)|qwq|thinking|grok-3-mini|grok-4|magistral"
        ),
        Allowance(2048, reasoning=True),
    ),
)


def allowance_for(model: str) -> Allowance:
    """The output allowance of `model`'s family (16 tokens for a model that does not reason)."""
    name = model.lower()
    for pattern, allowance in _FAMILIES:
        if pattern.search(name):
            return allowance
    return _PLAIN


@dataclass(frozen=True, slots=True)
class CanaryRequest:
    """One canary request (headers hold the key: never shown).

    Attributes:
        model: The upstream model name.
        method: Always POST.
        url: Full URL, no secret in it.
        headers: Request headers, the key included.
        content: The JSON body.
        stream: Server-sent events are asked for.
        allowance: The output allowance sent.
    """

    model: str
    method: str
    url: str
    headers: dict[str, str] = field(repr=False)
    content: bytes
    stream: bool
    allowance: Allowance

    def worst_case(self, price: Price) -> tuple[float, int]:
        """(USD, tokens) if the provider billed the whole allowance: what the budget checks."""
        tokens = PROMPT_TOKENS_BOUND + self.allowance.max_output
        return price.cost(PROMPT_TOKENS_BOUND, self.allowance.max_output), tokens


def _auth(target: ProbeTarget) -> dict[str, str]:
    spec = kind_spec(target.kind)
    key = target.api_key.get_secret_value() if target.api_key is not None else ""
    out = {spec.auth_header: spec.auth_prefix + key} if key and spec.auth_header else {}
    out.update(target.headers)
    out["content-type"] = "application/json"
    return out


def _openai_body(model: str, a: Allowance, kind: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": PROMPT}]}
    # OpenAI's reasoning models refuse `max_tokens`; the compatible APIs know `max_tokens`.
    # Azure has both since api-version 2024-10-21 and its o-series refuse `max_tokens`; its
    # `reasoning_effort` came later (preview versions), so it is not sent there.
    modern = kind == "openai" or (kind == "azure-openai" and a.reasoning)
    body["max_completion_tokens" if modern else "max_tokens"] = a.max_output
    if a.openai_effort is not None and kind == "openai":
        body["reasoning_effort"] = a.openai_effort
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def build_request(target: ProbeTarget, model: str, *, stream: bool) -> CanaryRequest | None:
    """The canary request for `model` at `target`, or None for a kind the canary cannot speak."""
    if target.kind not in CANARY_KINDS:
        return None
    a = allowance_for(model)
    base = target.base_url.rstrip("/")
    headers = _auth(target)
    body: dict[str, Any]
    if target.kind == "anthropic":
        url = f"{base}/v1/messages"
        headers["anthropic-version"] = "2023-06-01"
        body = {
            "model": model,
            "max_tokens": a.max_output,
            "messages": [{"role": "user", "content": PROMPT}],
        }
        if stream:
            body["stream"] = True
    elif target.kind == "gemini":
        name = model.removeprefix("models/")
        verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
        url = f"{base}/v1beta/models/{name}:{verb}"
        gen: dict[str, Any] = {"maxOutputTokens": a.max_output}
        if a.gemini_thinking is not None:
            gen["thinkingConfig"] = {"thinkingBudget": a.gemini_thinking}
        body = {
            "contents": [{"role": "user", "parts": [{"text": PROMPT}]}],
            "generationConfig": gen,
        }
    elif target.kind == "azure-openai":
        # The model's name is its deployment's: Azure routes by the URL, not the body.
        opts = target.options if isinstance(target.options, AzureOptions) else AzureOptions()
        deployment, version = quote(model, safe=""), quote(opts.api_version, safe="")
        url = f"{base}/openai/deployments/{deployment}/chat/completions?api-version={version}"
        body = _openai_body(model, a, target.kind, stream)
        del body["model"]
    elif target.kind == "ollama":
        # Ollama streams unless told not to; `num_predict` caps the generated tokens.
        url = f"{base}/api/chat"
        body = {
            "model": model,
            "messages": [{"role": "user", "content": PROMPT}],
            "stream": stream,
            "options": {"num_predict": a.max_output},
        }
    else:
        url = base + _OPENAI_PATHS[target.kind]
        body = _openai_body(model, a, target.kind, stream)
    content = json.dumps(body, separators=(",", ":")).encode()
    return CanaryRequest(model, "POST", url, headers, content, stream, a)
