"""What to probe: `ProbeTarget` and the typed options of the kinds that need more than a URL.

These types are the shape the configuration layer builds. They hold secrets (the API key and
the values of extra headers) and never show them: `repr` prints header names only and the key as
pydantic's masked `SecretStr`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

from pydantic import SecretStr

from modelmesh_healthd.state.outcome import Outcome

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "AzureOptions",
    "BodyCondition",
    "Comparison",
    "HeaderCondition",
    "HttpOptions",
    "LocalOptions",
    "ModelLookup",
    "ProbeTarget",
]

DEFAULT_MAX_BODY_BYTES = 1 << 20
"""Default cap on the body bytes one probe reads (1 MiB): a 1 GB answer costs at most this."""

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class Comparison(StrEnum):
    """How a condition compares the value it found with the expected one."""

    EXISTS = "exists"
    """The JSON path (or header) is present; `value` is ignored."""
    ABSENT = "absent"
    """The JSON path (or header) is missing; `value` is ignored."""
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    CONTAINS = "contains"
    """The found string or list contains `value`."""
    MATCHES = "matches"
    """The found value, as a string, matches the regular expression `value` (re.search)."""


@dataclass(frozen=True, slots=True)
class BodyCondition:
    """One condition on a response body, for the generic `http` kind.

    Exactly one of `json_path` and `regex` is set.

    Attributes:
        json_path: A path into the JSON body: `$.data[0].status`, `status`, `items[-1]["id"]`.
            Compared with `value` by `op`.
        op: The comparison (for `json_path`).
        value: The expected value: a JSON scalar (str, int, float, bool, None).
        regex: A regular expression searched in the body decoded as UTF-8 (with replacement).
        negate: For `regex`: the condition holds when the pattern is *not* found.
    """

    json_path: str | None = None
    op: Comparison = Comparison.EXISTS
    value: str | int | float | bool | None = None
    regex: str | None = None
    negate: bool = False

    def __post_init__(self) -> None:
        if (self.json_path is None) == (self.regex is None):
            raise ValueError("a body condition needs exactly one of json_path and regex")


@dataclass(frozen=True, slots=True)
class HeaderCondition:
    """One condition on a response header, for the generic `http` kind.

    Attributes:
        name: Header name (case-insensitive).
        op: `exists`, `absent`, `==`, `!=`, `contains` or `matches` (numeric comparisons
            compare the header parsed as a number).
        value: The expected value.
    """

    name: str
    op: Comparison = Comparison.EXISTS
    value: str | int | float | None = None


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """The request and the success rule of a generic `http` probe.

    Attributes:
        method: HTTP method.
        path: Appended to the target's `base_url` (may carry a query string).
        headers: Request headers; their values are treated as secrets.
        content: Request body, if any.
        expected_statuses: Statuses that count as an answer; anything else is classified like any
            provider's status (401/403 auth, 429 rate limit, 5xx ...), other codes as
            `protocol_error`.
        body: Conditions on the body; all must hold.
        response_headers: Conditions on the response headers; all must hold.
        on_condition_failure: The outcome when a condition does not hold.
        follow_redirects: Follow 3xx answers (secret headers are dropped when the origin changes).
        max_redirects: At most this many hops when following.
    """

    method: str = "GET"
    path: str = "/"
    headers: Mapping[str, str] = field(default_factory=lambda: _NO_HEADERS, repr=False)
    content: bytes | None = field(default=None, repr=False)
    expected_statuses: frozenset[int] = frozenset({200})
    body: tuple[BodyCondition, ...] = ()
    response_headers: tuple[HeaderCondition, ...] = ()
    on_condition_failure: Outcome = Outcome.PROTOCOL_ERROR
    follow_redirects: bool = False
    max_redirects: int = 5


@dataclass(frozen=True, slots=True)
class AzureOptions:
    """Options of the `azure-openai` kind.

    Attributes:
        api_version: The `api-version` query parameter of the data-plane API. Model ids checked
            are the ids of `/openai/models` (with one model: `/openai/models/{id}`).
    """

    api_version: str = "2024-10-21"


@dataclass(frozen=True, slots=True)
class LocalOptions:
    """Options of the `local` kind (vLLM, llama.cpp and other OpenAI-compatible local servers).

    Attributes:
        health_path: Liveness endpoint, asked first.
        models_path: OpenAI-style models list, asked second when models are configured or an
            API key is set (it is the endpoint that checks the key).
    """

    health_path: str = "/health"
    models_path: str = "/v1/models"


ModelLookup = Literal["auto", "list"]
"""`auto`: one configured model is looked up by its own URL where the kind has one (`404` there
means that model is missing); `list`: always read the list (for OpenAI-compatible servers that
have no per-model endpoint, such as vLLM)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeTarget:
    """One provider endpoint to probe.

    Attributes:
        name: Provider id (for results; never sent).
        kind: The kind's name in the kinds registry (`modelmesh_healthd.kinds`), which picks
            the probe.
        base_url: The API base, in the kind's terms (docs/probes.md): `openai` up to and
            including the version segment (`https://api.openai.com/v1`); most others the host
            root (`https://api.anthropic.com`); `azure-openai` the resource endpoint; `http` the
            origin that `HttpOptions.path` is appended to.
        api_key: Credential, sent the way the kind expects. Never shown.
        headers: Extra request headers; their values are treated as secrets.
        models: (mesh model id, upstream model name) pairs to check in the same probe.
        timeout: Whole-probe deadline in seconds, covering every request of the probe.
        degraded_after: Latency in seconds above which an otherwise-ok result is `degraded`.
        max_body_bytes: The most body bytes read per response; more is not read.
        model_lookup: See `ModelLookup`.
        options: Kind-specific options (`AzureOptions`, `LocalOptions`, `HttpOptions`), or None
            for the kind's defaults.
        deep: Climb the kind's deeper zero-cost rungs for each configured model (Anthropic's
            `count_tokens`, Gemini's `countTokens`, Ollama's `/api/show`): one more free request
            per model, and per-model health. False: the front door only (the models list).
    """

    name: str
    kind: str
    base_url: str
    api_key: SecretStr | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: _NO_HEADERS, repr=False)
    models: tuple[tuple[str, str], ...] = ()
    timeout: float = 10.0
    degraded_after: float | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    model_lookup: ModelLookup = "auto"
    options: AzureOptions | LocalOptions | HttpOptions | None = None
    deep: bool = True

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive, got {self.timeout}")
        if self.max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be positive, got {self.max_body_bytes}")
        if self.degraded_after is not None and self.degraded_after < 0:
            raise ValueError(f"degraded_after must not be negative, got {self.degraded_after}")

    @property
    def upstream_models(self) -> tuple[str, ...]:
        """The distinct upstream model names to check, in configuration order."""
        return tuple(dict.fromkeys(upstream for _, upstream in self.models))

    def secrets(self) -> tuple[str, ...]:
        """Every secret string of this target (to scrub from anything shown).

        Returns:
            The API key and every extra header value, longest first, empty ones left out.
        """
        values = [v for v in self.headers.values() if v]
        if isinstance(self.options, HttpOptions):
            values.extend(v for v in self.options.headers.values() if v)
        if self.api_key is not None and self.api_key.get_secret_value():
            values.append(self.api_key.get_secret_value())
        return tuple(sorted(set(values), key=len, reverse=True))
