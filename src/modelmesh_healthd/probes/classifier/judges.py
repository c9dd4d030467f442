"""The shared judges: pure functions for the answers many kinds share (model lists, objects).

Every judge has the signature `(reply, dialect, models, now) -> Finding`: `dialect` is the
kind's error traps and headroom headers, `models` the upstream model names this answer is to be
checked for, `now` the wall time for Retry-After dates. Non-2xx answers all go through
`judge_error`; a judge only knows what a correct 2xx answer looks like. Judges of one kind's
own answers live in that kind's module (`probes/kinds/`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from modelmesh_healthd.probes.classifier.errors import Dialect, judge_error, rate_limit_headroom
from modelmesh_healthd.probes.classifier.replies import (
    OK,
    Finding,
    Reply,
    looks_like_json_object,
    models_finding,
    parse_json_object,
)
from modelmesh_healthd.state.outcome import Outcome

__all__ = [
    "Judge",
    "judge_json_answer",
    "judge_list",
    "judge_openai_list",
    "judge_single_model",
    "listed",
    "model_object",
    "too_big",
    "unexpected",
    "with_headroom",
]

Judge = Callable[[Reply, Dialect, tuple[str, ...], float], Finding]
"""(reply, dialect, upstream models to check, wall time) -> Finding."""


def unexpected(what: str) -> Finding:
    """A 2xx answer whose body is not what the endpoint documents."""
    return Finding(Outcome.PROTOCOL_ERROR, f"unexpected body: {what}")


def too_big(reply: Reply) -> Finding:
    """A 2xx answer cut at the body cap (it cannot be judged)."""
    return Finding(Outcome.PROTOCOL_ERROR, f"body over the {len(reply.body)}-byte cap")


def with_headroom(j: Finding, reply: Reply, dialect: Dialect) -> Finding:
    """`j` with the rate-limit headroom the answer's headers report, if any."""
    headroom = rate_limit_headroom(reply.headers, dialect.headroom)
    return replace(j, headroom=headroom) if headroom else j


def listed(items: object, *keys: str) -> frozenset[str] | None:
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
) -> Finding:
    """models_finding with names compared after `normalize`, reported as configured."""
    by_norm: dict[str, list[str]] = {}
    for w in wanted:
        by_norm.setdefault(normalize(w), []).append(w)
    norm = models_finding(frozenset(normalize(n) for n in names), tuple(by_norm), complete=complete)

    def back(xs: Iterable[str]) -> frozenset[str]:
        return frozenset(w for x in xs for w in by_norm[x])

    return replace(norm, found=back(norm.found), missing=back(norm.missing))


def _object_or_none(reply: Reply) -> dict[str, Any] | None:
    return parse_json_object(reply.body)


def _array_or_none(reply: Reply) -> list[Any] | None:
    try:
        value = json.loads(reply.body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return value if isinstance(value, list) else None


def judge_list(
    reply: Reply,
    dialect: Dialect,
    models: tuple[str, ...],
    now: float,
    *,
    field: str | None,
    keys: tuple[str, ...],
    normalize: Callable[[str], str] = str,
    complete: Callable[[dict[str, Any]], bool] = lambda obj: True,
) -> Finding:
    """A models list of any shape: `{field: [{key: name}, ...]}`, or with `field` None a bare
    JSON array `[{key: name}, ...]`; names compared after `normalize`; `complete(obj)` says
    whether the page holds the whole list."""
    if not 200 <= reply.status <= 299:
        return judge_error(reply, dialect, now)
    if reply.truncated:
        return too_big(reply)
    obj: dict[str, Any] | None
    if field is None:
        obj, names = {}, listed(_array_or_none(reply), *keys)
    else:
        obj = _object_or_none(reply)
        names = listed(obj.get(field), *keys) if obj is not None else None
    if obj is None or names is None:
        return unexpected(f"no `{field}` list" if field else "not a JSON list")
    if not models:
        return with_headroom(OK, reply, dialect)
    verdict = _check(names, models, normalize, complete=complete(obj))
    return with_headroom(verdict, reply, dialect)


def judge_json_answer(
    reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
) -> Finding:
    """An authenticated endpoint whose 2xx answer only needs to be JSON (an object or a list).

    For key checks whose content says nothing more (a list of jobs, of voices).
    """
    if not 200 <= reply.status <= 299:
        return judge_error(reply, dialect, now)
    if reply.truncated:
        return too_big(reply)
    stripped = reply.body.strip()
    if not (looks_like_json_object(stripped) or (stripped[:1] == b"[" and stripped[-1:] == b"]")):
        return unexpected("not JSON")
    return with_headroom(OK, reply, dialect)


# --- OpenAI and compatible (openai, azure-openai, local's /v1/models) -----------


def judge_openai_list(
    reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
) -> Finding:
    """`GET /models`: `{"object": "list", "data": [{"id": ...}, ...]}`."""
    if not 200 <= reply.status <= 299:
        return judge_error(reply, dialect, now)
    if reply.truncated:
        return too_big(reply)
    if not models:
        # Nothing to look up: a cheap shape check instead of a parse (this is the hot path).
        if not looks_like_json_object(reply.body):
            return unexpected("not a JSON object")
        return with_headroom(OK, reply, dialect)
    obj = _object_or_none(reply)
    names = listed(obj.get("data"), "id") if obj is not None else None
    if names is None:
        return unexpected("no `data` list")
    return with_headroom(models_finding(names, models), reply, dialect)


def model_object(
    reply: Reply, dialect: Dialect, model: str, now: float
) -> Finding | dict[str, Any] | None:
    """The start every judge of one model's JSON object answer shares.

    Args:
        reply: The answer about `model` alone (`GET /models/{id}`, a per-model rung).
        dialect: The kind's error traps.
        model: The model the answer is about (a 404 is that model missing).
        now: Wall time, for Retry-After dates.

    Returns:
        A `Finding` when the answer is judged before its body is read: a non-2xx through
        `judge_error` with the model named, a 2xx cut at the body cap. Otherwise the body as a
        JSON object, or None when it is not one; what a correct object holds is the caller's.
    """
    if not 200 <= reply.status <= 299:
        return judge_error(reply, dialect, now, model=model)
    if reply.truncated:
        return too_big(reply)
    return parse_json_object(reply.body)


def judge_single_model(
    reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
) -> Finding:
    """`GET /models/{id}` (OpenAI, Azure, Anthropic, Gemini): one model object, or 404."""
    model = models[0]
    obj = model_object(reply, dialect, model, now)
    if isinstance(obj, Finding):
        return obj
    if obj is None or not isinstance(obj.get("id", obj.get("name")), str):
        return unexpected("not a model object")
    return with_headroom(Finding(Outcome.OK, found=frozenset((model,))), reply, dialect)
