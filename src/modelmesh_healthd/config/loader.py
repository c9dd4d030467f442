"""Loading a configuration file: YAML -> interpolation -> shape -> validation -> cross-checks."""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from modelmesh_healthd.config.errors import ConfigError, ConfigIssue, describe_type, did_you_mean
from modelmesh_healthd.config.interpolate import interpolate
from modelmesh_healthd.config.modelmesh import is_modelmesh, normalize_modelmesh
from modelmesh_healthd.config.root import Config
from modelmesh_healthd.config.source import Lines, line_index, parse_yaml

__all__ = ["load_config", "load_config_text", "tidy_strings"]

PathT = tuple[str | int, ...]


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    """Read, interpolate and validate a configuration file.

    Args:
        path: The YAML file.
        environ: Environment for `${VAR}` references (default: the process environment).

    Returns:
        The validated, immutable Config.

    Raises:
        ConfigError: Every problem found, one line each, naming file, line and key path.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [ConfigIssue((), f"cannot read: {exc.strerror or exc}")], source
        ) from None
    except UnicodeDecodeError:
        raise ConfigError([ConfigIssue((), "not UTF-8 text")], source) from None
    return load_config_text(
        text, source=source, environ=environ, base_dir=Path(path).resolve().parent
    )


def load_config_text(
    text: str,
    *,
    source: str | None = None,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> Config:
    """Like `load_config`, from a string.

    Raises:
        ConfigError: Every problem found.
    """
    env = os.environ if environ is None else environ
    data = parse_yaml(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigIssue((), f"the document must be a mapping, got {describe_type(data)}", 1)],
            source,
        )
    data, issues, _ = interpolate(data, env, base_dir=base_dir)
    origin: dict[PathT, PathT] = {}
    if is_modelmesh(data):
        data, origin, shape_issues = normalize_modelmesh(data)
        issues += shape_issues
    if issues:
        raise ConfigError(issues, source).with_lines(line_index(text, source), source)
    data = tidy_strings(data)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        found = [_issue(err, origin) for err in exc.errors()]
        raise ConfigError(found, source).with_lines(line_index(text, source), source) from None
    cross = _cross_check(config)
    if cross:
        lines = _remap(line_index(text, source), origin)
        raise ConfigError(cross, source).with_lines(lines, source)
    return config.with_source(source)


def _remap(lines: Lines, origin: dict[PathT, PathT]) -> Lines:
    out = dict(lines)
    for new, old in origin.items():
        if old in lines:
            out[new] = lines[old]
    return out


def _issue(err: Any, origin: dict[PathT, PathT]) -> ConfigIssue:
    loc: PathT = tuple(p for p in err["loc"] if not _is_union_tag(p))
    loc = origin.get(loc, loc)
    kind = err["type"]
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        key = str(loc[-1]) if loc else ""
        allowed = _allowed_keys(loc[:-1])
        return ConfigIssue(loc, "unknown key" + did_you_mean(key, allowed))
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


def _allowed_keys(loc: PathT) -> list[str]:
    """The field names (and aliases) accepted at `loc`, walking the Config model."""
    annotation: Any = Config
    for part in loc:
        fields = _fields_of(_unwrap(annotation))
        if fields is None:
            args = typing.get_args(_unwrap(annotation))
            annotation = args[-1] if args else None
            continue
        field = fields.get(str(part)) or next((f for f in fields.values() if f.alias == part), None)
        if field is None:
            return []
        annotation = field.annotation
    fields = _fields_of(_unwrap(annotation))
    return [f.alias or name for name, f in (fields or {}).items()]


def _fields_of(annotation: Any) -> dict[str, FieldInfo] | None:
    """The pydantic fields of a model or pydantic dataclass, None for anything else."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.model_fields
    fields: dict[str, FieldInfo] | None = getattr(annotation, "__pydantic_fields__", None)
    return fields


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return members[0] if len(members) == 1 else annotation
    return annotation


def _cross_check(config: Config) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = [
        ConfigIssue(("health", field), message.removeprefix(field + " "))
        for field, message in config.health.problems()
    ]
    issues += [ConfigIssue(("schedule", f), m) for f, m in config.schedule.problems()]
    for pid, provider in config.providers.items():
        issues += [ConfigIssue(("providers", pid, f), m) for f, m in provider.problems()]
        if not config.schedule.problems():
            merged = provider.schedule.over(config.schedule)
            issues += [
                ConfigIssue(("providers", pid, "schedule", f), m + " (after the global schedule)")
                for f, m in merged.problems()
            ]
    providers = set(config.providers)
    for mid, model in config.models.items():
        if model.provider not in providers:
            issues.append(
                ConfigIssue(
                    ("models", mid, "provider"),
                    f"unknown provider {model.provider!r}"
                    + did_you_mean(model.provider, providers),
                )
            )
    for pid, pool in config.pools.items():
        for i, mid in enumerate(pool.models):
            if mid not in config.models:
                issues.append(
                    ConfigIssue(
                        ("pools", pid, "models", i),
                        f"unknown model {mid!r}" + did_you_mean(mid, config.models),
                    )
                )
        for i, prov in enumerate(pool.providers):
            if prov not in providers:
                issues.append(
                    ConfigIssue(
                        ("pools", pid, "providers", i),
                        f"unknown provider {prov!r}" + did_you_mean(prov, providers),
                    )
                )
    if issues:
        return issues
    return [
        ConfigIssue(("pools", pid), "selects no model")
        for pid in config.pools
        if not config.pool_members(pid)
    ]


def tidy_strings(data: Any) -> Any:
    """Strip every string (keys too) and share equal ones, before validation.

    A fleet's file names each provider and model several times (as a key, as a model's
    `provider`, in every pool that lists it). Validating strings already stripped and shared
    lets pydantic keep them as they are (its own `str_strip_whitespace` makes a new copy of
    every string), so the configuration holds one string per distinct value for as long as the
    daemon runs: about 150 bytes less per provider.
    """
    shared: dict[str, str] = {}

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return shared.setdefault(value, value)
        if isinstance(value, dict):
            return {walk(k): walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(data)
