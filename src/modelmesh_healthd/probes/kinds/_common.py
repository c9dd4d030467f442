"""Helpers the kind modules share: the base URL, the key in the kind's header, one-model lookups."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from modelmesh_healthd.kinds import kind_spec
from modelmesh_healthd.probes.classifier import (
    OK,
    Dialect,
    Finding,
    Judge,
    Reply,
    judge_error,
    judge_openai_list,
    parse_json_object,
    too_big,
    unexpected,
)
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.target import ProbeTarget
from modelmesh_healthd.state.outcome import Outcome

__all__ = [
    "auth",
    "base",
    "credit_balance_judge",
    "gemini_name",
    "get",
    "headers",
    "key",
    "openai_list",
    "quoted",
    "single",
]


def base(target: ProbeTarget) -> str:
    """The target's base URL without a trailing slash."""
    return target.base_url.rstrip("/")


def key(target: ProbeTarget) -> str | None:
    """The target's API key, or None."""
    return target.api_key.get_secret_value() if target.api_key is not None else None


def auth(target: ProbeTarget) -> dict[str, str]:
    """The key in the header its kind's spec names (`authorization: Bearer ...`, `x-api-key`)."""
    spec = kind_spec(target.kind)
    k = key(target)
    if not k or spec.auth_header is None:
        return {}
    return {spec.auth_header: spec.auth_prefix + k}


def headers(target: ProbeTarget, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The auth header, then `extra`, then the configured headers (a config may override)."""
    out = auth(target)
    if extra:
        out.update(extra)
    if target.headers:
        out.update(target.headers)
    return out


def gemini_name(name: str) -> str:
    """`models/gemini-2.0-flash` and `gemini-2.0-flash` name the same model."""
    return name.removeprefix("models/")


def single(target: ProbeTarget) -> str | None:
    """The one model to look up by its own URL, or None to read the list."""
    names = target.upstream_models
    if len(names) != 1 or target.model_lookup != "auto" or "/" in gemini_name(names[0]):
        return None
    return names[0]


def quoted(name: str) -> str:
    """A model name as a URL path segment."""
    return quote(name, safe=":@")


def get(target: ProbeTarget, path: str, judge: Judge, models: tuple[str, ...] = ()) -> Step:
    """One authenticated GET of `{base}{path}`."""
    return Step("GET", base(target) + path, headers(target), judge, models)


def openai_list(target: ProbeTarget, path: str) -> tuple[Step, ...]:
    """`GET {base}{path}`, an OpenAI-style models list, checked for the configured models."""
    return (get(target, path, judge_openai_list, target.upstream_models),)


def credit_balance_judge(field: str, spent: str) -> Judge:
    """A judge of `{"data": {FIELD: n}}` balance answers (OpenRouter's key, Firecrawl's credits).

    The balance endpoint still answers 200 when nothing is left, while inference would be
    refused: a balance <= 0 is `quota_exhausted` with detail `spent`. A missing or non-numeric
    balance (an unlimited key) is plain `ok`.
    """

    def judge(reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float) -> Finding:
        if not 200 <= reply.status <= 299:
            return judge_error(reply, dialect, now)
        if reply.truncated:
            return too_big(reply)
        obj = parse_json_object(reply.body)
        data = obj.get("data") if obj is not None else None
        if not isinstance(data, dict):
            return unexpected("no `data` object")
        remaining = data.get(field)
        if isinstance(remaining, int | float) and not isinstance(remaining, bool):
            headroom = {"credits": float(remaining)}
            if remaining <= 0:
                return Finding(Outcome.QUOTA_EXHAUSTED, spent, headroom=headroom)
            return Finding(Outcome.OK, headroom=headroom)
        return OK

    return judge
