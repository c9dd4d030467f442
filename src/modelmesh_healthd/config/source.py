"""Reading YAML with the line of every key, rejecting duplicate keys."""

from __future__ import annotations

from typing import Any

import yaml

from modelmesh_healthd.config.errors import ConfigError, ConfigIssue

__all__ = ["Lines", "parse_yaml"]

Lines = dict[tuple[str | int, ...], int]
"""Key path -> 1-based line number."""


def parse_yaml(text: str, source: str | None = None) -> tuple[Any, Lines]:
    """Parse one YAML document into plain data plus the line of every key path.

    Raises:
        ConfigError: Not valid YAML, more than one document, or a key given twice in a mapping.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([ConfigIssue((), f"not valid YAML: {problem}", line)], source) from None
    if node is None:
        return {}, {}
    lines: Lines = {(): node.start_mark.line + 1}
    issues: list[ConfigIssue] = []
    _index(node, (), lines, issues)
    if issues:
        raise ConfigError(issues, source)
    loader = yaml.SafeLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:  # pragma: no cover - compose already accepted the text
        raise ConfigError([ConfigIssue((), f"not valid YAML: {exc}")], source) from None
    finally:
        loader.dispose()
    return data, lines


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
