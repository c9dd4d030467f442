"""The generic `http` kind's success rule: expected statuses plus body and header conditions.

Pure functions, like gatus' `Condition.evaluate`: a reply and the options in, a judgement out.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from modelmesh_healthd.probes.classifier.errors import PLAIN, judge_error
from modelmesh_healthd.probes.classifier.replies import OK, Finding, Reply
from modelmesh_healthd.probes.target import BodyCondition, Comparison, HeaderCondition, HttpOptions
from modelmesh_healthd.state.outcome import Outcome

__all__ = ["JsonPathError", "judge_http", "parse_json_path", "resolve_json_path"]

_MISSING: Any = object()


class JsonPathError(ValueError):
    """A JSON path that cannot be parsed (a configuration error)."""


_TOKEN = re.compile(
    r"""\.?([A-Za-z_][\w-]*)      # .name or name
      | \[\s*(-?\d+)\s*\]         # [3] or [-1]
      | \[\s*"((?:[^"\\]|\\.)*)"\s*\]   # ["key"]
      | \[\s*'([^']*)'\s*\]       # ['key']
    """,
    re.VERBOSE,
)


@lru_cache(maxsize=256)
def parse_json_path(path: str) -> tuple[str | int, ...]:
    """Split `$.data[0]["x-y"].id` into keys and indexes.

    Args:
        path: The path; a leading `$` is optional.

    Returns:
        The steps: str for object keys, int for list indexes.

    Raises:
        JsonPathError: The path has characters the grammar does not allow.
    """
    text = path.strip()
    text = text[1:] if text.startswith("$") else text
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise JsonPathError(f"cannot parse JSON path {path!r} at offset {pos}")
        name, index, dq, sq = m.groups()
        if name is not None:
            steps.append(name)
        elif index is not None:
            steps.append(int(index))
        elif dq is not None:
            steps.append(json.loads(f'"{dq}"'))
        else:
            steps.append(sq)
        pos = m.end()
    return tuple(steps)


def resolve_json_path(document: object, path: str) -> object:
    """The value at `path` in `document`, or a private sentinel when it is absent.

    Args:
        document: A parsed JSON document.
        path: See `parse_json_path`.

    Returns:
        The value found; compare with `is` against nothing else: use `found is not missing`.
    """
    value = document
    for step in parse_json_path(path):
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return _MISSING
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                return _MISSING
            value = value[step]
    return value


def _number(v: object) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def _compare(found: object, op: Comparison, expected: object) -> bool:
    """Apply `op`; type mismatches are simply false, never errors."""
    if op is Comparison.EXISTS:
        return found is not _MISSING
    if op is Comparison.ABSENT:
        return found is _MISSING
    if found is _MISSING:
        return False
    if op in (Comparison.EQ, Comparison.NE):
        # bool is an int in Python; in JSON `true` is not `1`.
        same = type(found) is type(expected) or (
            _number(found) is not None
            and _number(expected) is not None
            and not isinstance(found, str)
            and not isinstance(expected, str)
        )
        equal = same and found == expected
        return equal if op is Comparison.EQ else not equal
    if op is Comparison.CONTAINS:
        if isinstance(found, str):
            return isinstance(expected, str) and expected in found
        return isinstance(found, list) and expected in found
    if op is Comparison.MATCHES:
        text = found if isinstance(found, str) else json.dumps(found)
        return re.search(str(expected), text) is not None
    a, b = _number(found), _number(expected)
    if a is None or b is None:
        return False
    if op is Comparison.LT:
        return a < b
    if op is Comparison.LE:
        return a <= b
    if op is Comparison.GT:
        return a > b
    return a >= b  # Comparison.GE


def _body_holds(cond: BodyCondition, body: bytes, document: object) -> bool:
    if cond.regex is not None:
        found = re.search(cond.regex, body.decode("utf-8", "replace")) is not None
        return found != cond.negate
    path = cond.json_path or "$"  # BodyCondition guarantees a path when there is no regex
    return _compare(resolve_json_path(document, path), cond.op, cond.value)


def _header_holds(cond: HeaderCondition, headers: Mapping[str, str]) -> bool:
    raw = headers.get(cond.name.lower())
    return _compare(_MISSING if raw is None else raw, cond.op, cond.value)


def judge_http(reply: Reply, options: HttpOptions, now: float) -> Finding:
    """Judge a generic `http` probe's answer.

    Args:
        reply: The answer.
        options: Expected statuses and conditions.
        now: Wall time (Retry-After dates).

    Returns:
        `ok` when the status is expected and every condition holds; the options'
        `on_condition_failure` when a condition fails; otherwise the status's usual class.
    """
    if reply.status not in options.expected_statuses:
        if 200 <= reply.status <= 299:
            return Finding(Outcome.PROTOCOL_ERROR, f"HTTP {reply.status} not expected")
        return judge_error(reply, PLAIN, now)
    for hc in options.response_headers:
        if not _header_holds(hc, reply.headers):
            return Finding(
                options.on_condition_failure, f"header condition failed: {hc.name} {hc.op}"
            )
    if not options.body:
        return OK
    if reply.truncated:
        return Finding(Outcome.PROTOCOL_ERROR, f"body over the {len(reply.body)}-byte cap")
    document: object = _MISSING
    if any(c.json_path is not None for c in options.body):
        try:
            document = json.loads(reply.body)
        except (ValueError, RecursionError):
            return Finding(Outcome.PROTOCOL_ERROR, "unexpected body: not JSON")
    for bc in options.body:
        if not _body_holds(bc, reply.body, document):
            what = f"/{bc.regex}/" if bc.regex is not None else f"{bc.json_path} {bc.op}"
            return Finding(options.on_condition_failure, f"body condition failed: {what}")
    return OK
