"""The probe kinds: what each asks its provider, and the registry that names them.

Each kind is a plan function `ProbeTarget -> tuple[Step, ...]` (which URLs, which headers, which
judge) wrapped in a `PlannedProbe`, so every probe has the same signature and is chosen by name.
The requests follow PROVIDERS.md: they cost no tokens and prove the credentials.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Protocol
from urllib.parse import quote

import httpx

from modelmesh_healthd.probes.classify import Judgement, Reply
from modelmesh_healthd.probes.conditions import judge_http, parse_json_path
from modelmesh_healthd.probes.engine import Step, run_steps
from modelmesh_healthd.probes.judges import (
    Judge,
    gemini_name,
    judge_anthropic_list,
    judge_gemini_list,
    judge_local_health,
    judge_ollama_tags,
    judge_ollama_version,
    judge_openai_list,
    judge_openrouter_key,
    judge_single_model,
)
from modelmesh_healthd.probes.result import ProbeResult
from modelmesh_healthd.probes.target import (
    AzureOptions,
    HttpOptions,
    LocalOptions,
    ProbeTarget,
)

__all__ = [
    "ANTHROPIC_VERSION",
    "PROBES",
    "PlannedProbe",
    "Probe",
    "UnknownKindError",
    "get_probe",
    "plan",
    "probe",
    "validate_target",
]

ANTHROPIC_VERSION = "2023-06-01"

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token


class Probe(Protocol):
    """The one interface of every probe kind."""

    async def __call__(self, client: httpx.AsyncClient, target: ProbeTarget) -> ProbeResult:
        """Probe `target` once through `client`; never raises for provider or network faults."""
        ...


class UnknownKindError(ValueError):
    """No probe is registered under that kind name."""


class PlannedProbe:
    """A probe kind defined by its plan: the requests to send and how to judge them."""

    __slots__ = ("kind", "plan", "wall_clock")

    def __init__(
        self,
        kind: str,
        plan: Callable[[ProbeTarget], tuple[Step, ...]],
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.kind = kind
        self.plan = plan
        self.wall_clock = wall_clock

    async def __call__(self, client: httpx.AsyncClient, target: ProbeTarget) -> ProbeResult:
        """Probe `target` once.

        Args:
            client: The shared client from `build_client`.
            target: What to probe; its `kind` should be this probe's kind.

        Returns:
            The classified result.
        """
        return await run_steps(client, target, self.plan(target), wall_clock=self.wall_clock)

    def __repr__(self) -> str:
        return f"PlannedProbe({self.kind!r})"


# --- helpers ---------------------------------------------------------------------------


def _base(target: ProbeTarget) -> str:
    return target.base_url.rstrip("/")


def _key(target: ProbeTarget) -> str | None:
    return target.api_key.get_secret_value() if target.api_key is not None else None


def _headers(target: ProbeTarget, auth: Mapping[str, str]) -> dict[str, str]:
    # Extra headers go last so a config can override a default (anthropic-version, say).
    if not target.headers:
        return dict(auth)
    return {**auth, **target.headers}


def _bearer(target: ProbeTarget) -> dict[str, str]:
    key = _key(target)
    return {"authorization": f"Bearer {key}"} if key else {}


def _single(target: ProbeTarget) -> str | None:
    """The one model to look up by its own URL, or None to read the list."""
    names = target.upstream_models
    if len(names) != 1 or target.model_lookup != "auto" or "/" in gemini_name(names[0]):
        return None
    return names[0]


def _quote(name: str) -> str:
    return quote(name, safe=":@")


# --- the kinds -----------------------------------------------------------------------------


def _openai(target: ProbeTarget) -> tuple[Step, ...]:
    headers = _headers(target, _bearer(target))
    one = _single(target)
    if one is not None:
        url = f"{_base(target)}/models/{_quote(one)}"
        return (Step("GET", url, headers, judge_single_model, (one,)),)
    return (
        Step("GET", f"{_base(target)}/models", headers, judge_openai_list, target.upstream_models),
    )


def _anthropic(target: ProbeTarget) -> tuple[Step, ...]:
    key = _key(target)
    auth = {"anthropic-version": ANTHROPIC_VERSION}
    if key:
        auth["x-api-key"] = key
    headers = _headers(target, auth)
    one = _single(target)
    if one is not None:
        url = f"{_base(target)}/v1/models/{_quote(one)}"
        return (Step("GET", url, headers, judge_single_model, (one,)),)
    limit = 1000 if target.models else 1
    url = f"{_base(target)}/v1/models?limit={limit}"
    return (Step("GET", url, headers, judge_anthropic_list, target.upstream_models),)


def _gemini(target: ProbeTarget) -> tuple[Step, ...]:
    key = _key(target)
    headers = _headers(target, {"x-goog-api-key": key} if key else {})
    one = _single(target)
    if one is not None:
        url = f"{_base(target)}/v1beta/models/{_quote(gemini_name(one))}"
        return (Step("GET", url, headers, judge_single_model, (one,)),)
    size = 1000 if target.models else 1
    url = f"{_base(target)}/v1beta/models?pageSize={size}"
    return (Step("GET", url, headers, judge_gemini_list, target.upstream_models),)


def _openrouter(target: ProbeTarget) -> tuple[Step, ...]:
    # The models list needs no key, so it cannot prove one; the key endpoint does, and it
    # reports the credit left. Models are not checked (the list is public and large).
    url = f"{_base(target)}/api/v1/key"
    return (Step("GET", url, _headers(target, _bearer(target)), judge_openrouter_key),)


def _azure(target: ProbeTarget) -> tuple[Step, ...]:
    opts = target.options if isinstance(target.options, AzureOptions) else AzureOptions()
    key = _key(target)
    headers = _headers(target, {"api-key": key} if key else {})
    version = quote(opts.api_version, safe="")
    one = _single(target)
    if one is not None:
        url = f"{_base(target)}/openai/models/{_quote(one)}?api-version={version}"
        return (Step("GET", url, headers, judge_single_model, (one,)),)
    url = f"{_base(target)}/openai/models?api-version={version}"
    return (Step("GET", url, headers, judge_openai_list, target.upstream_models),)


def _ollama(target: ProbeTarget) -> tuple[Step, ...]:
    # Ollama has no key of its own; one set here is for an authenticating proxy in front of it.
    headers = _headers(target, _bearer(target))
    if target.models:
        # /api/tags proves the server is up as well as /api/version does: one request, not two.
        url = f"{_base(target)}/api/tags"
        return (Step("GET", url, headers, judge_ollama_tags, target.upstream_models),)
    return (Step("GET", f"{_base(target)}/api/version", headers, judge_ollama_version),)


def _local(target: ProbeTarget) -> tuple[Step, ...]:
    opts = target.options if isinstance(target.options, LocalOptions) else LocalOptions()
    headers = _headers(target, _bearer(target))
    health = Step("GET", _base(target) + opts.health_path, headers, judge_local_health)
    if not target.models and target.api_key is None:
        return (health,)
    # /health is open on vLLM even with --api-key; the models list is where the key is checked.
    models_url = _base(target) + opts.models_path
    return (health, Step("GET", models_url, headers, judge_openai_list, target.upstream_models))


class _HttpJudge:
    __slots__ = ("options",)

    def __init__(self, options: HttpOptions) -> None:
        self.options = options

    def __call__(self, reply: Reply, kind: str, models: tuple[str, ...], now: float) -> Judgement:
        return judge_http(reply, self.options, now)


def _http(target: ProbeTarget) -> tuple[Step, ...]:
    opts = target.options if isinstance(target.options, HttpOptions) else HttpOptions()
    headers = {**_bearer(target), **target.headers, **opts.headers}
    judge: Judge = _HttpJudge(opts)
    return (
        Step(
            opts.method.upper(),
            _base(target) + opts.path,
            headers,
            judge,
            content=opts.content,
            follow_redirects=opts.follow_redirects,
            max_redirects=opts.max_redirects,
        ),
    )


_PLANS: dict[str, Callable[[ProbeTarget], tuple[Step, ...]]] = {
    "openai": _openai,
    "anthropic": _anthropic,
    "gemini": _gemini,
    "openrouter": _openrouter,
    "azure-openai": _azure,
    "ollama": _ollama,
    "local": _local,
    "http": _http,
}

_OPTION_TYPES: dict[str, type] = {
    "azure-openai": AzureOptions,
    "local": LocalOptions,
    "http": HttpOptions,
}

PROBES: Mapping[str, Probe] = MappingProxyType(
    {kind: PlannedProbe(kind, plan) for kind, plan in _PLANS.items()}
)
"""Every probe kind by name."""


def get_probe(kind: str) -> Probe:
    """The probe registered under `kind`.

    Raises:
        UnknownKindError: No such kind (the message lists the known ones).
    """
    try:
        return PROBES[kind]
    except KeyError:
        known = ", ".join(PROBES)
        raise UnknownKindError(f"unknown probe kind {kind!r}; known kinds: {known}") from None


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests a probe of `target` would send (for `check --dry-run` and tests).

    Raises:
        UnknownKindError: `target.kind` is not registered.
    """
    if target.kind not in _PLANS:
        get_probe(target.kind)
    return _PLANS[target.kind](target)


def validate_target(target: ProbeTarget) -> None:
    """Check what configuration loading can check about a target, once, before probing.

    Raises:
        UnknownKindError: Unknown kind.
        ValueError: Options of another kind, a bad URL, JSON path or regular expression.
    """
    get_probe(target.kind)
    expected = _OPTION_TYPES.get(target.kind)
    if target.options is not None and not isinstance(target.options, expected or ()):
        wanted = expected.__name__ if expected else "no options"
        raise ValueError(
            f"provider {target.name!r}: kind {target.kind!r} takes {wanted}, "
            f"got {type(target.options).__name__}"
        )
    try:
        url = httpx.URL(target.base_url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"provider {target.name!r}: bad base_url: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"provider {target.name!r}: base_url must be an http(s) URL with a host")
    headers = dict(target.headers)
    if isinstance(target.options, HttpOptions):
        headers.update(target.options.headers)
    for name, value in headers.items():
        # The value is secret: say which header is wrong, never what it holds.
        if (
            not _HEADER_NAME.fullmatch(name)
            or not value.isascii()
            or any(c in value for c in "\r\n\0")
        ):
            raise ValueError(
                f"provider {target.name!r}: header {name[:40]!r} has a bad name or value"
            )
    if isinstance(target.options, HttpOptions):
        for cond in target.options.body:
            if cond.json_path is not None:
                parse_json_path(cond.json_path)
            if cond.regex is not None:
                try:
                    re.compile(cond.regex)
                except re.error as exc:
                    raise ValueError(f"provider {target.name!r}: bad regex: {exc}") from None
    plan(target)


async def probe(client: httpx.AsyncClient, target: ProbeTarget) -> ProbeResult:
    """Probe `target` once with the probe its `kind` names.

    Args:
        client: The shared client from `build_client`.
        target: What to probe.

    Returns:
        The classified result; never raises for provider or network faults.

    Raises:
        UnknownKindError: `target.kind` is not registered (a configuration error).
    """
    return await get_probe(target.kind)(client, target)
