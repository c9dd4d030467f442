"""One answer and the finding on it: the types every judge shares, and the pure body helpers.

No I/O and no clock here. JSON is parsed only as far as a finding needs: a models list only when
models are to be checked. A 2xx body that must be a JSON object but is not (HTML, garbage, a
cut-off document) is `protocol_error`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelmesh_healthd.probes.result import EMPTY_HEADROOM
from modelmesh_healthd.state.outcome import Outcome

__all__ = [
    "OK",
    "Finding",
    "Reply",
    "looks_like_json_object",
    "models_finding",
    "parse_json_object",
]


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer, as far as judging goes.

    Attributes:
        status: HTTP status code.
        headers: Response headers; a case-insensitive mapping (httpx.Headers) or lower-case keys.
        body: The body bytes read (at most the target's cap).
        truncated: True when the body was longer than the cap and reading stopped there.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Finding:
    """What one answer shows (the probe's `ProbeResult` is the verdict the state core reads).

    Attributes:
        outcome: Provider-level outcome (`ok` when the answer is correct; models aside).
        detail: Short description built from codes, never from provider messages (they may
            echo part of a key).
        retry_after: Seconds to wait, when the provider said.
        headroom: Rate-limit or credit headroom, when the provider said.
        found: Upstream model names the answer shows to exist.
        missing: Upstream model names the answer shows not to exist.
    """

    outcome: Outcome
    detail: str | None = None
    retry_after: float | None = None
    headroom: Mapping[str, float] = field(default_factory=lambda: EMPTY_HEADROOM)
    found: frozenset[str] = frozenset()
    missing: frozenset[str] = frozenset()


OK = Finding(Outcome.OK)


def parse_json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None if it is not one (garbage, truncated, a list ...)."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return value if isinstance(value, dict) else None


def looks_like_json_object(body: bytes) -> bool:
    """A cheap check that a body is a JSON object, for answers whose content we do not need.

    It rejects HTML, plain text, empty and binary bodies without parsing; a body cut short is
    caught by the transport (Content-Length) or by a parse where content matters.
    """
    stripped = body.strip()
    return stripped[:1] == b"{" and stripped[-1:] == b"}"


def models_finding(
    names: frozenset[str], wanted: tuple[str, ...], *, complete: bool = True
) -> Finding:
    """The verdict on a models list that lists `names`, for the `wanted` upstream models.

    Args:
        names: The model names the provider listed.
        wanted: The upstream names to check.
        complete: Whether the list is the whole list (no further page). When it is not, a name
            not seen is left unjudged rather than called missing.

    Returns:
        `ok` with `found`, or `model_not_found` with `found` and `missing`.
    """
    found = frozenset(w for w in wanted if w in names)
    if not complete:
        return Finding(Outcome.OK, found=found)
    missing = frozenset(w for w in wanted if w not in names)
    if missing:
        detail = "model not listed: " + ", ".join(sorted(missing))
        return Finding(Outcome.MODEL_NOT_FOUND, detail[:200], found=found, missing=missing)
    return Finding(Outcome.OK, found=found)
