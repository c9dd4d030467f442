"""ConfigError: every problem of a configuration file, one clear line each."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from modelmesh_healthd.config.limits import MAX_ISSUES

__all__ = ["ConfigError", "ConfigIssue", "format_path"]


def format_path(path: Sequence[str | int]) -> str:
    """`("providers", "openai", "base_url")` -> `providers.openai.base_url`.

    List indexes render as `[2]`, keys with dots as `["openai.gpt-4o"]`.
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "." in part or not part:
            out += f'["{part}"]'  # ids such as openai.gpt-4o contain dots
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem: where it is and what is wrong (never a secret's value).

    Attributes:
        path: Key path into the document, e.g. `("providers", "openai", "base_url")`.
        message: What is wrong.
        line: 1-based line in the file, when known.
    """

    path: tuple[str | int, ...]
    message: str
    line: int | None = None

    def render(self, source: str | None) -> str:
        where = source or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: {format_path(self.path)}: {self.message}"


class ConfigError(Exception):
    """A configuration that cannot be used. `str()` gives one line per issue."""

    def __init__(self, issues: Iterable[ConfigIssue], source: str | None = None) -> None:
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        """The issues, one line each, in file order (at most `MAX_ISSUES`, then one line more)."""
        ordered = sorted(
            self.issues, key=lambda i: (i.line if i.line is not None else 1 << 30, str(i.path))
        )
        lines = [issue.render(self.source) for issue in ordered[:MAX_ISSUES]]
        if len(ordered) > MAX_ISSUES:
            more = f"more problems not shown: only the first {MAX_ISSUES:,} are reported"
            lines.append(ConfigIssue((), more).render(self.source))
        return "\n".join(lines)

    def with_lines(
        self, lines: dict[tuple[str | int, ...], int], source: str | None
    ) -> ConfigError:
        """The same issues, located in the file by their key paths."""
        located = [
            ConfigIssue(
                i.path, i.message, i.line if i.line is not None else _line_of(i.path, lines)
            )
            for i in self.issues
        ]
        return ConfigError(located, source)


def _line_of(path: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]) -> int | None:
    # The deepest known ancestor: a missing key is reported at its parent's line.
    for end in range(len(path), -1, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return None


def did_you_mean(key: str, choices: Iterable[str]) -> str:
    """A suggestion suffix for a misspelt key, or ''."""
    close = difflib.get_close_matches(key, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def describe_type(value: Any) -> str:
    """A type name for messages, without the value (which may be a secret)."""
    if value is None:
        return "null"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
