"""Strict, dependency-free decoding of the state dataclasses from plain dicts.

Snapshots come from disk, Redis or another process: a value of the wrong type must fail loudly
with the field's name, never load as a state that lies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any, TypeVar

from modelmesh_healthd.state.outcome import DeactivationReason, Outcome

__all__ = ["camel", "decode_fields"]

T = TypeVar("T")


def camel(name: str) -> str:
    """snake_case -> camelCase, the spelling of ModelMesh's TypeScript variant."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class _Spec:
    __slots__ = ("aliases", "types")

    def __init__(self, cls: type[Any]) -> None:
        # With `from __future__ import annotations` the field types are their source strings.
        self.types: dict[str, str] = {f.name: str(f.type) for f in fields(cls)}
        self.aliases: dict[str, str] = {}
        for f in fields(cls):
            self.aliases[f.name] = f.name
            self.aliases[camel(f.name)] = f.name
            if f.default is MISSING and f.default_factory is MISSING:  # pragma: no cover
                raise TypeError(f"{cls.__name__}.{f.name} needs a default to be decodable")


_SPECS: dict[type[Any], _Spec] = {}


def decode_fields(cls: type[T], data: dict[str, Any], what: str) -> T:
    """Build `cls` from `data`, accepting snake_case and camelCase keys, ignoring unknown keys.

    Raises:
        ValueError: `data` is not a dict, or a known field holds a value of the wrong type.
    """
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be an object, got {type(data).__name__}")
    spec = _SPECS.get(cls)
    if spec is None:
        spec = _SPECS[cls] = _Spec(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = spec.aliases.get(key)
        if name is not None:
            kwargs[name] = _coerce(what, name, spec.types[name], value)
    return cls(**kwargs)


def _coerce(what: str, name: str, kind: str, value: Any) -> Any:
    optional = kind.endswith(" | None")
    base = kind.removesuffix(" | None")
    if value is None:
        if optional:
            return None
        raise ValueError(f"{what} field {name!r} must not be null")
    decode = _DECODERS.get(base)
    if decode is None:  # pragma: no cover - a dataclass field of a type this module lacks
        raise TypeError(f"no decoder for {what}.{name}: {kind}")
    return decode(what, name, value)


def _bool(what: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} field {name!r} must be a boolean, got {value!r}")
    return value


def _int(what: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} field {name!r} must be an integer, got {value!r}")
    return value


def _str(what: str, name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} field {name!r} must be a string, got {value!r}")
    return _WORDS.get(value, value)


def _float_list(what: str, name: str, value: Any) -> list[float]:
    if not isinstance(value, list):
        raise ValueError(f"{what} field {name!r} must be a list, got {value!r}")
    return [_number(what, name, v) for v in value]


def _str_set(what: str, name: str, value: Any) -> set[str]:
    if not isinstance(value, list | set | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} field {name!r} must be a list of strings, got {value!r}")
    return set(value)


def _number(what: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} field {name!r} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} field {name!r} must be finite, got {value!r}")
    if number == 0.0:
        return _ZERO if math.copysign(1.0, number) > 0 else number
    return _ONE if number == 1.0 else number


# Shared values. A parser makes a new object for every value it reads, so a state restored
# from a store would hold its own `0.0`s and `"active"`s, more memory per provider and model
# than the same state built fresh, for as long as the daemon runs (docs/benchmarks.md).
_ZERO, _ONE = 0.0, 1.0
_VOCABULARY = ("active", "standby", *Outcome, *DeactivationReason)
_WORDS: dict[str, str] = {str(word): str(word) for word in _VOCABULARY}

_DECODERS: dict[str, Callable[[str, str, Any], Any]] = {
    "bool": _bool,
    "int": _int,
    "float": _number,
    "str": _str,
    "list[float]": _float_list,
    "set[str]": _str_set,
}
