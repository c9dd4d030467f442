"""Reading YAML: fast when it is right, precise when it is wrong.

A good file is read once with LibYAML (when PyYAML has it), keeping nothing but the data: a
fleet of 10,000 providers must not cost the daemon a node tree with marks for every scalar.
Only when something is wrong is the text composed again, in Python, to find the line of every
key path for the error messages.
"""

from __future__ import annotations

from collections.abc import Callable
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
        keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
        if len(keys) != len(set(keys)):
            raise _DuplicateKeyError
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        return mapping


class _NotPlainError(Exception):
    """Something `_load_plain` leaves to PyYAML's own loader (tags, anchors, merge keys...)."""


_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"


class _PlainReader:
    """Builds plain data from LibYAML's events, one event at a time.

    PyYAML's stubs leave the loader untyped; the annotations say what its methods return.
    """

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.next: Callable[[], yaml.Event] = loader.get_event
        self.constructors: dict[str | None, Callable[[Any, yaml.Node], Any]] = (
            loader.yaml_constructors
        )
        self.resolve: Callable[[type[yaml.Node], str, tuple[bool, bool]], str] = loader.resolve
        self.strings: dict[str, str] = {}

    def document(self) -> Any:
        self.next()  # StreamStart
        if isinstance(self.next(), yaml.StreamEndEvent):
            return None  # an empty document
        data = self.node(self.next())
        self.next()  # DocumentEnd
        if not isinstance(self.next(), yaml.StreamEndEvent):
            raise _NotPlainError  # more than one document: yaml.load says so
        return data

    def node(self, event: yaml.Event) -> Any:
        if getattr(event, "anchor", None) is not None:
            raise _NotPlainError
        if isinstance(event, yaml.ScalarEvent):
            return self.scalar(event)
        if isinstance(event, yaml.MappingStartEvent) and event.tag in (None, "!", _MAP):
            return self.mapping()
        if isinstance(event, yaml.SequenceStartEvent) and event.tag in (None, "!", _SEQ):
            items = []
            while not isinstance(item := self.next(), yaml.SequenceEndEvent):
                items.append(self.node(item))
            return items
        raise _NotPlainError  # an alias, or a tagged collection

    def scalar(self, event: yaml.ScalarEvent) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _STR:
            return self.strings.setdefault(event.value, event.value)
        construct = self.constructors.get(tag)
        if construct is None or tag == _MERGE:
            raise _NotPlainError
        node = yaml.ScalarNode(tag, event.value, style=event.style)
        return construct(self.loader, node)

    def mapping(self) -> dict[Any, Any]:
        mapping: dict[Any, Any] = {}
        raw_keys: set[str] = set()  # as `_StrictLoader` compares them
        while not isinstance(key := self.next(), yaml.MappingEndEvent):
            if not isinstance(key, yaml.ScalarEvent):
                raise _NotPlainError  # a complex key, or an alias as key
            if key.value in raw_keys:
                raise _DuplicateKeyError
            raw_keys.add(key.value)
            try:
                mapping[self.scalar(key)] = self.node(self.next())
            except TypeError:  # an unhashable key
                raise _NotPlainError from None
        return mapping


def _load_plain(text: str) -> Any:
    """Plain data straight from LibYAML's event stream, for documents of plain YAML.

    `yaml.load` composes the whole document into nodes (with two position marks each) before
    building any data: for a fleet of 10,000 providers that is ~5 KiB per provider of short-lived
    objects, interleaved with the strings the configuration keeps, and CPython cannot hand back
    the arenas they leave half empty (RSS after loading: 5.0 KiB per provider that way, 0.8
    KiB this way). Here each event is gone before the next is read. Anything beyond plain
    mappings, sequences and scalars raises `_NotPlainError`.

    Raises:
        _NotPlainError: Left to `yaml.load`.
        _DuplicateKeyError: A mapping names a key twice.
        yaml.YAMLError: Not valid YAML.
    """
    loader = _Base(text)
    try:
        return _PlainReader(loader).document()
    finally:
        loader.dispose()


def parse_yaml(text: str, source: str | None = None) -> Any:
    """Parse one YAML document into plain data.

    Raises:
        ConfigError: Not valid YAML, or a key given twice in a mapping (with its line).
    """
    try:
        try:
            return _load_plain(text)
        except _NotPlainError:
            return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except (_DuplicateKeyError, yaml.YAMLError):
        pass
    lines = line_index(text, source)  # raises the precise error
    raise ConfigError(  # valid YAML that is not data: a mapping key that is a list, say
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
