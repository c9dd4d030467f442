"""Reading YAML: fast when it is right, precise when it is wrong.

A good file is read once with LibYAML (when PyYAML has it), keeping nothing but the data: a
fleet of 10,000 providers must not cost the daemon a node tree with marks for every scalar.
Only when something is wrong is the text composed again, in Python, to find the line of every
key path for the error messages.
"""

from __future__ import annotations

from typing import Any

import yaml

from modelmesh_healthd.config.errors import ConfigError, ConfigIssue

__all__ = ["Lines", "line_index", "parse_yaml"]

Lines = dict[tuple[str | int, ...], int]
"""Key path -> 1-based line number."""

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DuplicateKeyError(Exception):
    """A mapping names a key twice; the slow path reports where."""


class _StrictLoader(_Base):  # type: ignore[misc, valid-type]  # _Base is a loader class
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [k.value for k, _ in node.value]
        if len(keys) != len(set(keys)):
            raise _DuplicateKeyError
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        return mapping


def parse_yaml(text: str, source: str | None = None) -> Any:
    """Parse one YAML document into plain data.

    Raises:
        ConfigError: Not valid YAML, or a key given twice in a mapping (with its line).
    """
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except (_DuplicateKeyError, yaml.YAMLError):
        pass
    lines = line_index(text, source)  # raises the precise error
    raise ConfigError(  # pragma: no cover - the two parsers disagree on validity
        [ConfigIssue((), "not valid YAML", lines.get(()))], source
    )


def line_index(text: str, source: str | None = None) -> Lines:
    """The line of every key path of the document (for error messages).

    Raises:
        ConfigError: Not valid YAML, or a key given twice in a mapping.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([ConfigIssue((), f"not valid YAML: {problem}", line)], source) from None
    if node is None:
        return {}
    lines: Lines = {(): node.start_mark.line + 1}
    issues: list[ConfigIssue] = []
    _index(node, (), lines, issues)
    if issues:
        raise ConfigError(issues, source)
    return lines


def _index(
    node: yaml.Node, path: tuple[str | int, ...], lines: Lines, issues: list[ConfigIssue]
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                issues.append(
                    ConfigIssue(
                        (*path, key), f"duplicate key (first given on line {seen[key]})", line
                    )
                )
                continue
            seen[key] = line
            lines[(*path, key)] = line
            _index(value_node, (*path, key), lines, issues)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            _index(item, (*path, i), lines, issues)
