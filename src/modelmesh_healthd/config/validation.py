"""Validating the plain data against the Config models, with every problem as a ConfigIssue.

pydantic reports every error of a call, and each costs about 500 bytes until the call returns:
a file of a million wrong values would cost gigabytes in one call. A document small enough for
that not to matter (at most `MAX_PART_VALUES` values) is validated in one call, as fast as
pydantic goes; a larger one in parts (everything but the entries of providers, models and
pools, then each entry), each part at most `MAX_PART_VALUES` values, stopping once
`MAX_ISSUES` problems are known.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from modelmesh_healthd.config.errors import ConfigIssue, describe_type, did_you_mean
from modelmesh_healthd.config.hints import unknown_key_message
from modelmesh_healthd.config.limits import MAX_ISSUES, MAX_PART_VALUES
from modelmesh_healthd.config.models import ModelConfig, PoolConfig, ProviderConfig
from modelmesh_healthd.config.root import Config

__all__ = ["ENTITIES", "validate"]

PathT = tuple[str | int, ...]

ENTITIES = ("providers", "models", "pools")
_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "providers": TypeAdapter(ProviderConfig),
    "models": TypeAdapter(ModelConfig),
    "pools": TypeAdapter(PoolConfig),
}


def validate(
    data: dict[Any, Any], origin: dict[PathT, PathT], values: int
) -> tuple[Config | None, list[ConfigIssue]]:
    """The Config (None when not even the rest could be validated), and every schema problem.

    With problems, the entries and sections they are in are set aside and the rest validated
    again, so that the cross-checks still run over everything that is right.

    Args:
        data: The document, interpolated and tidied.
        origin: Key paths translated from ModelMesh's shape -> what the file says.
        values: How many values the document holds (aliases counted as what they stand for).
    """
    if values <= MAX_PART_VALUES:
        return _validate_whole(data, origin)
    return _validate_in_parts(data, origin)


def _validate_whole(
    data: dict[Any, Any], origin: dict[PathT, PathT]
) -> tuple[Config | None, list[ConfigIssue]]:
    try:
        return Config.model_validate(data), []
    except ValidationError as exc:
        errors = exc.errors()
    found = [_issue(err, origin) for err in errors]
    repaired = dict(data)
    for err in errors:
        loc = _loc(err)
        if not loc:
            return None, found
        if loc[0] in ENTITIES and len(loc) >= 2 and isinstance(repaired.get(loc[0]), dict):
            section = repaired[loc[0]] = dict(repaired[loc[0]])
            section.pop(loc[1], None)
        else:
            repaired.pop(loc[0], None)
    try:
        return Config.model_validate(repaired), found
    except ValidationError:
        return None, found


def _validate_in_parts(
    data: dict[Any, Any], origin: dict[PathT, PathT]
) -> tuple[Config | None, list[ConfigIssue]]:
    entries = {k: v for k, v in data.items() if k in ENTITIES and isinstance(v, dict)}
    rest = {k: ({} if k in entries else v) for k, v in data.items()}
    oversized = [(path, n) for path, n in _parts(rest, entries) if n > MAX_PART_VALUES]
    if oversized:
        path, _ = oversized[0]
        where = "one entry" if path else "everything outside providers, models and pools"
        message = f"holds more than {MAX_PART_VALUES:,} values (the limit for {where})"
        return None, [ConfigIssue(path, message)]
    config, found = _validate_whole(rest, origin)
    validated: dict[str, dict[str, Any]] = {}
    for section, items in entries.items():
        good = validated[section] = {}
        adapter = _ADAPTERS[section]
        for key, entry in items.items():
            if len(found) > MAX_ISSUES:
                break
            if not isinstance(key, str):
                found.append(ConfigIssue((section, str(key)), "Input should be a valid string"))
                continue
            try:
                good[key] = adapter.validate_python(entry)
            except ValidationError as exc:
                found += [
                    _issue({**err, "loc": (section, key, *err["loc"])}, origin)
                    for err in exc.errors()
                ]
    if config is not None:
        config = config.model_copy(update=validated)
    return config, found


def _parts(rest: dict[Any, Any], entries: dict[str, dict[Any, Any]]) -> list[tuple[PathT, int]]:
    """(path, values) of each part validated in one call: the rest (path ()), then entries."""
    sizes: list[tuple[PathT, int]] = [((), _count(rest))]
    for section, items in entries.items():
        sizes += [((section, str(key)), _count(entry)) for key, entry in items.items()]
    return sizes


def _count(value: Any) -> int:
    # Iterative: a value nests at most MAX_DEPTH deep, but a walk needs no stack either way.
    # Shared parts count once per place they appear, as validation builds them once per place.
    n, stack = 0, [value]
    while stack:
        item = stack.pop()
        n += 1
        if n > MAX_PART_VALUES:
            return n
        if isinstance(item, dict):
            stack += item.values()
        elif isinstance(item, list):
            stack += item
    return n


def _loc(err: Any) -> PathT:
    return tuple(p for p in err["loc"] if not _is_union_tag(p))


def _issue(err: Any, origin: dict[PathT, PathT]) -> ConfigIssue:
    ours = _loc(err)
    loc = origin.get(ours, ours)
    kind = err["type"]
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return ConfigIssue(loc, unknown_key_message(loc, relocate=not origin))
    if kind == "missing":
        return ConfigIssue(loc, "required key is missing")
    if kind in ("literal_error", "enum"):
        expected = str(err.get("ctx", {}).get("expected", "")).replace("'", "")
        got = err.get("input")
        hint = (
            did_you_mean(got, expected.replace(" or ", ", ").split(", "))
            if isinstance(got, str)
            else ""
        )
        shown = f"{got!r}" if isinstance(got, str | int | float | bool) else describe_type(got)
        return ConfigIssue(loc, f"must be one of {expected}, got {shown}{hint}")
    message = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return ConfigIssue(loc, message)


def _is_union_tag(part: Any) -> bool:
    # pydantic inserts the chosen union member ("str", "function-before[...]") into locations.
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "float", "bool"))
