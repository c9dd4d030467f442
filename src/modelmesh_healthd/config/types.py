"""Field types for human-written values: durations (`30s`, `2m`) and sizes (`1MiB`)."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

__all__ = ["ByteSize", "Duration", "parse_duration", "parse_size"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """`30` / `30s` / `500ms` / `2m` / `1h30m` -> seconds.

    Raises:
        ValueError: Not a non-negative number or a duration string.
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 2m or 500ms")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        pos, seconds = 0, 0.0
        for match in _DURATION.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(text) or not text:
            try:
                seconds = float(text)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a duration (use e.g. 30s, 2m, 1h30m, 500ms)"
                ) from None
    else:
        raise ValueError("expected a duration like 30s, 2m or 500ms")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(
            f"duration must be a non-negative, finite number of seconds, got {value!r}"
        )
    return seconds


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def parse_size(value: Any) -> int:
    """`65536` / `64KiB` / `1MiB` / `2MB` -> bytes.

    Raises:
        ValueError: Not a non-negative integer or a size string.
    """
    if isinstance(value, bool):
        raise ValueError("expected a size like 1MiB or 65536")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (match := _SIZE.fullmatch(value.strip())):
        size = int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()])
    else:
        raise ValueError(f"{value!r} is not a size (use e.g. 1MiB, 64KiB or a byte count)")
    if size < 0:
        raise ValueError(f"size must not be negative, got {value!r}")
    return size


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)\s*)+$"},
            ],
            "description": "Seconds, or a duration like 30s, 2m, 1h30m, 500ms.",
        }
    ),
]
"""Seconds, written as a number or a duration string."""

PositiveDuration = Annotated[Duration, Field(gt=0)]

ByteSize = Annotated[
    int,
    BeforeValidator(parse_size),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*([kKmMgG]i?[bB]|[bB])?\s*$"},
            ],
            "description": "Bytes, or a size like 64KiB, 1MiB, 2MB.",
        }
    ),
]
"""Bytes, written as an integer or a size string."""
