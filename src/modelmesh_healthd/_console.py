"""What the command line prints for people: tables, durations, and colour only where wanted.

Colour follows https://no-color.org: none when `NO_COLOR` is set to anything non-empty, and none
when the stream is not a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

__all__ = ["Palette", "ago", "milliseconds", "probe_detail", "table", "wants_colour"]


def wants_colour(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Colour for `stream`: a terminal, and `NO_COLOR` unset or empty."""
    return not environ.get("NO_COLOR") and stream.isatty()


class Palette:
    """ANSI colours, or none (every method then returns its text unchanged)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _paint(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled else text

    def good(self, text: str) -> str:
        """Green."""
        return self._paint("32", text)

    def bad(self, text: str) -> str:
        """Bold red."""
        return self._paint("1;31", text)


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    paint: Callable[[int, int, str], str] | None = None,
) -> str:
    """Left-aligned columns two spaces apart, trailing spaces trimmed.

    Args:
        header: Column titles.
        rows: Cells as plain text (widths are measured on it).
        paint: Optional `(row_index, column_index, padded_cell) -> str` applied after padding,
            so colour codes never count towards a width.
    """
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for r, row in enumerate(rows):
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=True)]
        if paint is not None:
            cells = [paint(r, i, cell) for i, cell in enumerate(cells)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def milliseconds(seconds: float | None) -> str:
    """`12 ms`, or `-` for no value."""
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def ago(timestamp: float | None, now: float | None = None) -> str:
    """`3s ago`, or `never`."""
    if timestamp is None:
        return "never"
    return f"{max(0.0, (time.time() if now is None else now) - timestamp):.0f}s ago"


def probe_detail(detail: str | None, models: Mapping[str, Any]) -> str:
    """A probe's detail, and the checked models that are not there."""
    missing = [m for m, o in models.items() if str(o) != "ok"]
    parts = [detail] if detail else []
    if missing:
        parts.append("missing: " + ", ".join(missing))
    return "; ".join(parts)
