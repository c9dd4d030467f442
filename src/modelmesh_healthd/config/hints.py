"""Did-you-mean for unknown keys: a close spelling where the key is, or the section it belongs in.

`providers.openai.base_ur` is a typo of a key allowed right there; `providers.openai.timeout` is a
real key in the wrong place (it lives in `providers.<id>.schedule`). Both answers come from the
configuration's own models, so they follow the schema as it changes.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from modelmesh_healthd.config.errors import did_you_mean, format_path
from modelmesh_healthd.config.root import Config

__all__ = ["allowed_keys", "unknown_key_message"]

PathT = tuple[str | int, ...]

_ID = "<id>"  # any key of a map of entities (providers.<id>)
_INDEX = -1  # any index of a list
_NEAR = 2  # a suggested home is at most a section and its key away from a shared ancestor


def unknown_key_message(loc: PathT, *, relocate: bool = True) -> str:
    """The message for an unknown key at `loc`: with a spelling hint, or where it belongs.

    Args:
        loc: The key path of the unknown key.
        relocate: Whether to look for the key in other sections (off when the path was
            translated from another shape, where our section names would mislead).
    """
    key = str(loc[-1]) if loc else ""
    spelling = did_you_mean(key, allowed_keys(loc[:-1]))
    if spelling or not relocate:
        return "unknown key" + spelling
    home = _home(loc)
    return f"unknown key; did you mean {home}?" if home else "unknown key"


def _home(loc: PathT) -> str | None:
    """The one best path elsewhere in the schema that ends with `loc`'s key, rendered."""
    key, parent = str(loc[-1]), loc[:-1]
    scored: dict[int, list[tuple[Any, ...]]] = {}
    for template in _templates():
        if template[-1] != key or len(template) < 2:
            continue
        shared = _shared(parent, template)
        if sum(part not in (_ID, _INDEX) for part in template[shared:]) > _NEAR:
            continue  # too far from where it was written to be what was meant
        score = shared * 100 - (len(template) - shared)
        scored.setdefault(score, []).append(template)
    if not scored:
        return None
    best = scored[max(scored)]
    if len(best) != 1:
        return None  # as likely one as another: no guess
    template = best[0]
    shared = _shared(parent, template)
    parts: list[str | int] = [*parent[:shared], *template[shared:]]
    return _render(parts)


def _shared(parent: PathT, template: tuple[Any, ...]) -> int:
    n = 0
    for got, want in zip(parent, template, strict=False):
        placeholder = (want == _ID and isinstance(got, str)) or (
            want == _INDEX and isinstance(got, int)
        )
        if not (placeholder or got == want):
            break
        n += 1
    return n


def _render(parts: Sequence[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += "[]" if part == _INDEX else f"[{part}]"
        else:
            out += format_path([part]) if "." in part or not part else ("." if out else "") + part
    return out


@functools.cache
def _templates() -> tuple[tuple[Any, ...], ...]:
    """Every key path the schema accepts, with `<id>` for entity names and -1 for indexes."""
    out: list[tuple[Any, ...]] = []

    def walk(annotation: Any, prefix: tuple[Any, ...], depth: int) -> None:
        annotation = _unwrap(annotation)
        fields = _fields_of(annotation)
        if fields is not None:
            for name, field in fields.items():
                path = (*prefix, field.alias or name)
                out.append(path)
                if depth < 8:
                    walk(field.annotation, path, depth + 1)
            return
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is dict and len(args) == 2 and _fields_of(_unwrap(args[1])) is not None:
            walk(args[1], (*prefix, _ID), depth + 1)
        elif origin in (list, tuple) and args and _fields_of(_unwrap(args[0])) is not None:
            walk(args[0], (*prefix, _INDEX), depth + 1)

    walk(Config, (), 0)
    return tuple(out)


def allowed_keys(loc: PathT) -> list[str]:
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
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation
