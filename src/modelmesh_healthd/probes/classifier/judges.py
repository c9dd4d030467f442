"""The per-kind judges: one pure function per kind of answer a probe asks for.

Every judge has the signature `(reply, kind, models, now) -> Judgement`: `kind` is the probe kind
(it picks kind-specific traps and headroom headers), `models` the upstream model names this
answer is to be checked for, `now` the wall time for Retry-After dates. Non-2xx answers all go
through `classify.judge_error`; a judge only knows what a correct 2xx answer looks like.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from modelmesh_healthd.probes.classify import (
    OK,
    Judgement,
    Reply,
    judge_error,
    looks_like_json_object,
    models_judgement,
    parse_json_object,
    rate_limit_headroom,
)
from modelmesh_healthd.state.outcome import Outcome

__all__ = [
    "Judge",
    "gemini_name",
    "judge_anthropic_list",
    "judge_gemini_list",
    "judge_local_health",
    "judge_ollama_tags",
    "judge_ollama_version",
    "judge_openai_list",
    "judge_openrouter_key",
    "judge_single_model",
    "ollama_name",
]

Judge = Callable[[Reply, str, tuple[str, ...], float], Judgement]
"""(reply, kind, upstream models to check, wall time) -> Judgement."""


def _unexpected(what: str) -> Judgement:
    return Judgement(Outcome.PROTOCOL_ERROR, f"unexpected body: {what}")


def _too_big(reply: Reply) -> Judgement:
    return Judgement(Outcome.PROTOCOL_ERROR, f"body over the {len(reply.body)}-byte cap")


def _with_headroom(j: Judgement, reply: Reply, kind: str) -> Judgement:
    headroom = rate_limit_headroom(reply.headers, kind)
    return replace(j, headroom=headroom) if headroom else j


def _listed(items: object, *keys: str) -> frozenset[str] | None:
    """The string values under `keys` of each object in a JSON list; None if not a list."""
    if not isinstance(items, list):
        return None
    names: set[str] = set()
    for item in items:
        if isinstance(item, dict):
            for key in keys:
                value = item.get(key)
                if isinstance(value, str):
                    names.add(value)
    return frozenset(names)


def _check(
    names: frozenset[str],
    wanted: tuple[str, ...],
    normalize: Callable[[str], str],
    *,
    complete: bool = True,
) -> Judgement:
    """models_judgement with names compared after `normalize`, reported as configured."""
    by_norm: dict[str, list[str]] = {}
    for w in wanted:
        by_norm.setdefault(normalize(w), []).append(w)
    norm = models_judgement(
        frozenset(normalize(n) for n in names), tuple(by_norm), complete=complete
    )

    def back(xs: Iterable[str]) -> frozenset[str]:
        return frozenset(w for x in xs for w in by_norm[x])

    return replace(norm, found=back(norm.found), missing=back(norm.missing))


def _object_or_none(reply: Reply) -> dict[str, Any] | None:
    return parse_json_object(reply.body)


def _judge_list(
    reply: Reply,
    kind: str,
    models: tuple[str, ...],
    now: float,
    *,
    field: str,
    keys: tuple[str, ...],
    normalize: Callable[[str], str],
    complete: Callable[[dict[str, Any]], bool],
) -> Judgement:
    """A models list of any shape: `{field: [{key: name}, ...]}`, names compared after
    `normalize`; `complete(obj)` says whether the page holds the whole list."""
    if not 200 <= reply.status <= 299:
        return judge_error(reply, kind, now)
    if reply.truncated:
        return _too_big(reply)
    obj = _object_or_none(reply)
    names = _listed(obj.get(field), *keys) if obj is not None else None
    if obj is None or names is None:
        return _unexpected(f"no `{field}` list")
    if not models:
        return _with_headroom(OK, reply, kind)
    verdict = _check(names, models, normalize, complete=complete(obj))
    return _with_headroom(verdict, reply, kind)


# --- OpenAI and compatible (openai, azure-openai, local's /v1/models) -----------


def judge_openai_list(reply: Reply, kind: str, models: tuple[str, ...], now: float) -> Judgement:
    """`GET /models`: `{"object": "list", "data": [{"id": ...}, ...]}`."""
    if not 200 <= reply.status <= 299:
        return judge_error(reply, kind, now)
    if reply.truncated:
        return _too_big(reply)
    if not models:
        # Nothing to look up: a cheap shape check instead of a parse (this is the hot path).
        if not looks_like_json_object(reply.body):
            return _unexpected("not a JSON object")
        return _with_headroom(OK, reply, kind)
    obj = _object_or_none(reply)
    names = _listed(obj.get("data"), "id") if obj is not None else None
    if names is None:
        return _unexpected("no `data` list")
    return _with_headroom(models_judgement(names, models), reply, kind)


def judge_single_model(reply: Reply, kind: str, models: tuple[str, ...], now: float) -> Judgement:
    """`GET /models/{id}` (OpenAI, Azure, Anthropic, Gemini): one model object, or 404."""
    model = models[0]
    if not 200 <= reply.status <= 299:
        return judge_error(reply, kind, now, model=model)
    if reply.truncated:
        return _too_big(reply)
    obj = _object_or_none(reply)
    if obj is None or not isinstance(obj.get("id", obj.get("name")), str):
        return _unexpected("not a model object")
    return _with_headroom(Judgement(Outcome.OK, found=frozenset((model,))), reply, kind)


# --- Anthropic ---------------------------------------------------------------


def judge_anthropic_list(reply: Reply, kind: str, models: tuple[str, ...], now: float) -> Judgement:
    """`GET /v1/models`: `{"data": [{"id", "type": "model"}], "has_more": bool, ...}`."""
    return _judge_list(
        reply,
        kind,
        models,
        now,
        field="data",
        keys=("id",),
        normalize=str,
        complete=lambda obj: obj.get("has_more") is not True,
    )


# --- Gemini ------------------------------------------------------------------


def gemini_name(name: str) -> str:
    """`models/gemini-2.0-flash` and `gemini-2.0-flash` name the same model."""
    return name.removeprefix("models/")


def judge_gemini_list(reply: Reply, kind: str, models: tuple[str, ...], now: float) -> Judgement:
    """`GET /v1beta/models`: `{"models": [{"name": "models/..."}], "nextPageToken"?}`."""
    return _judge_list(
        reply,
        kind,
        models,
        now,
        field="models",
        keys=("name",),
        normalize=gemini_name,
        complete=lambda obj: not obj.get("nextPageToken"),
    )


# --- OpenRouter --------------------------------------------------------------


def judge_openrouter_key(reply: Reply, kind: str, models: tuple[str, ...], now: float) -> Judgement:
    """`GET /api/v1/key`: `{"data": {"limit": n|null, "limit_remaining": n|null, "usage": n}}`.

    A key whose credit limit is used up (`limit_remaining` <= 0) is `quota_exhausted` even
    though this endpoint still answers 200: inference would answer 402.
    """
    if not 200 <= reply.status <= 299:
        return judge_error(reply, kind, now)
    if reply.truncated:
        return _too_big(reply)
    obj = _object_or_none(reply)
    data = obj.get("data") if obj is not None else None
    if not isinstance(data, dict):
        return _unexpected("no `data` object")
    remaining = data.get("limit_remaining")
    if isinstance(remaining, int | float) and not isinstance(remaining, bool):
        headroom = {"credits": float(remaining)}
        if remaining <= 0:
            return Judgement(Outcome.QUOTA_EXHAUSTED, "credit limit reached", headroom=headroom)
        return Judgement(Outcome.OK, headroom=headroom)
    return OK


# --- Ollama ------------------------------------------------------------------


def ollama_name(name: str) -> str:
    """Ollama's default tag: `llama3.2` is `llama3.2:latest`."""
    return name if ":" in name else f"{name}:latest"


def judge_ollama_version(reply: Reply, kind: str, models: tuple[str, ...], now: float) -> Judgement:
    """`GET /api/version`: `{"version": "0.5.7"}`."""
    if not 200 <= reply.status <= 299:
        return judge_error(reply, kind, now)
    obj = None if reply.truncated else _object_or_none(reply)
    if obj is None or not isinstance(obj.get("version"), str):
        return _unexpected("no `version`")
    return OK


def judge_ollama_tags(reply: Reply, kind: str, models: tuple[str, ...], now: float) -> Judgement:
    """`GET /api/tags`: `{"models": [{"name": "llama3.2:latest", "model": ...}]}`."""
    return _judge_list(
        reply,
        kind,
        models,
        now,
        field="models",
        keys=("name", "model"),
        normalize=ollama_name,
        complete=lambda obj: True,
    )


# --- local servers (vLLM, llama.cpp) --------------------------------------------


def judge_local_health(reply: Reply, kind: str, models: tuple[str, ...], now: float) -> Judgement:
    """`GET /health`: vLLM answers 200 with an empty body, llama.cpp `{"status": "ok"}`.

    llama.cpp answers 503 `Loading model` while it loads (`loading`, see `judge_error`); some
    versions said so with a 200, which is read the same way.
    """
    if not 200 <= reply.status <= 299:
        return judge_error(reply, kind, now)
    if reply.truncated:
        return _too_big(reply)
    if reply.body and b"loading model" in reply.body[:512].lower():
        return Judgement(Outcome.LOADING, f"HTTP {reply.status} loading model")
    return OK
