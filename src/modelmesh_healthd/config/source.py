"""Reading YAML: lean when it is right, precise when it is wrong, bounded when it is hostile.

A file is read once from LibYAML's event stream (when PyYAML has it), keeping nothing but the
data: a fleet of 10,000 providers must not cost the daemon a node tree with marks for every
scalar. Only when something is wrong is the text read again, to find the line of every key path
for the error messages.

The reader, not `yaml.load`, handles anchors, aliases and merge keys (`<<`), so that it can
count what aliases expand to and refuse a YAML bomb before anything is built from it, bound the
nesting depth (never a RecursionError), and keep to the loading deadline. What a configuration
never needs (tags of other collections such as `!!set`, mapping keys that are collections,
several documents in one file) is refused with a clear line. See `config/limits.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, NoReturn

import yaml

from modelmesh_healthd.config.errors import ConfigError, ConfigIssue
from modelmesh_healthd.config.limits import MAX_ALIAS_VALUES, MAX_DEPTH, Deadline, LoadTimeout

__all__ = ["Lines", "YamlDocument", "line_index", "parse_yaml", "read_yaml", "tidy_strings"]

Lines = dict[tuple[str | int, ...], int]
"""Key path -> 1-based line number."""

PathT = tuple[str | int, ...]

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_DEADLINE_EVERY = 1024  # collections (or events, for the index) between looks at the clock


class _Stop(Exception):  # noqa: N818 - unwinds the reader with the one issue that ends it
    def __init__(self, issue: ConfigIssue) -> None:
        super().__init__(issue.message)
        self.issue = issue


def _line(event: yaml.Event) -> int | None:
    mark = getattr(event, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org") else tag


class _Reader:
    """Builds plain data from the event stream, one event at a time.

    PyYAML's stubs leave the loader untyped; the annotations say what its methods return.
    """

    def __init__(self, loader: Any, deadline: Deadline | None) -> None:
        self.loader = loader
        self.next: Callable[[], yaml.Event] = loader.get_event
        self.constructors: dict[str | None, Callable[[Any, yaml.Node], Any]] = (
            loader.yaml_constructors
        )
        self.resolve: Callable[[type[yaml.Node], str, tuple[bool, bool]], str] = loader.resolve
        self.deadline = deadline
        self.strings: dict[str, str] = {}
        self.anchors: dict[str, tuple[Any, int, int | None]] = {}  # value, values, line
        self.building: set[str] = set()  # anchors whose collection is still open
        self.values = 0  # values built so far, each alias counted as what it stands for
        self.expanded = 0  # values that aliases stood for
        self.depth = 0
        self.path: list[str | int] = []
        self.duplicates: list[tuple[PathT, int | None]] = []  # keys given again, their lines
        self.count = 0  # collections read

    def stop(self, message: str, event: yaml.Event) -> NoReturn:
        raise _Stop(ConfigIssue(tuple(self.path), message, _line(event)))

    def document(self) -> Any:
        self.next()  # StreamStart
        if isinstance(self.next(), yaml.StreamEndEvent):
            return None  # an empty document
        data = self.node(self.next())
        self.next()  # DocumentEnd
        if not isinstance(end := self.next(), yaml.StreamEndEvent):
            self.path.clear()
            self.stop("a second YAML document starts here: a configuration is one document", end)
        return data

    def node(self, event: yaml.Event) -> Any:
        if isinstance(event, yaml.AliasEvent):
            return self.alias(event)
        anchor: str | None = getattr(event, "anchor", None)
        if anchor is None:
            return self.build(event)
        if anchor in self.anchors or anchor in self.building:
            first = self.anchors[anchor][2] if anchor in self.anchors else None
            self.stop(f"anchor &{anchor} is defined twice (first on line {first})", event)
        self.building.add(anchor)
        start = self.values
        value = self.build(event)
        self.building.discard(anchor)
        self.anchors[anchor] = (value, self.values - start, _line(event))
        return value

    def alias(self, event: yaml.AliasEvent) -> Any:
        name = event.anchor
        if name in self.building:
            self.stop(f"alias *{name} refers to a collection that contains it", event)
        if name not in self.anchors:
            self.stop(f"alias *{name} names no anchor defined before it", event)
        value, size, _ = self.anchors[name]
        self.values += size
        self.expanded += size
        if self.expanded > MAX_ALIAS_VALUES:
            self.stop(
                f"YAML aliases expand to more than {MAX_ALIAS_VALUES:,} values (the limit)", event
            )
        return value

    def build(self, event: yaml.Event) -> Any:
        self.values += 1
        if isinstance(event, yaml.ScalarEvent):
            return self.scalar(event)
        if not isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            self.stop(f"unexpected YAML event {type(event).__name__}", event)
        tag = event.tag
        wanted = _MAP if isinstance(event, yaml.MappingStartEvent) else _SEQ
        if tag not in (None, "!", wanted):
            self.stop(f"YAML tag {_short_tag(tag)} is not supported in a configuration", event)
        self.count += 1
        if self.deadline is not None and self.count % _DEADLINE_EVERY == 0:
            self.deadline.check()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.stop(f"nested more than {MAX_DEPTH} levels deep (the limit)", event)
        value = self.mapping() if wanted == _MAP else self.sequence()
        self.depth -= 1
        return value

    def sequence(self) -> list[Any]:
        items: list[Any] = []
        while not isinstance(item := self.next(), yaml.SequenceEndEvent):
            self.path.append(len(items))
            items.append(self.node(item))
            self.path.pop()
        return items

    def tag_of(self, event: yaml.ScalarEvent) -> str:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolve(yaml.ScalarNode, event.value, event.implicit)
        return tag

    def scalar(self, event: yaml.ScalarEvent, tag: str | None = None) -> Any:
        tag = tag or self.tag_of(event)
        if tag == _STR:
            return self.strings.setdefault(event.value, event.value)
        if tag == _MERGE:
            self.stop("<< (a merge key) is only allowed as a mapping key", event)
        construct = self.constructors.get(tag)
        if construct is None:
            self.stop(f"YAML tag {_short_tag(tag)} is not supported in a configuration", event)
        node = yaml.ScalarNode(tag, event.value, style=event.style)
        try:
            return construct(self.loader, node)
        except Exception:  # noqa: BLE001 - PyYAML's constructors raise ValueError and others
            self.stop(f"not a valid {_short_tag(tag)} value", event)

    def mapping(self) -> dict[Any, Any]:
        mapping: dict[Any, Any] = {}
        merged: list[dict[Any, Any]] = []
        # Keys as written, as duplicates are judged. Nothing else is kept per key: what lives
        # until the mapping ends sits among the strings the configuration keeps.
        written: set[str] = set()
        while not isinstance(key := self.next(), yaml.MappingEndEvent):
            if not isinstance(key, yaml.ScalarEvent):
                what = "an alias" if isinstance(key, yaml.AliasEvent) else "a collection"
                self.stop(f"a mapping key must be a string, number or boolean, not {what}", key)
            self.path.append(key.value)
            duplicate = key.value in written
            if duplicate:
                self.duplicates.append((tuple(self.path), _line(key)))
            else:
                written.add(key.value)
            tag = self.tag_of(key)
            if tag == _MERGE:
                merges = self.merge(self.next())
                merged = merged if duplicate else merges
            else:
                name = self.scalar(key, tag)
                value = self.node(self.next())
                if not duplicate:
                    try:
                        mapping[name] = value
                    except TypeError:  # a tagged key that builds something unhashable
                        self.stop("a mapping key must be a string, number or boolean", key)
            self.path.pop()
        if not merged:
            return mapping
        # As PyYAML merges: the mapping's own keys win, then the first merged mapping listed.
        result: dict[Any, Any] = {}
        for other in reversed(merged):
            result.update(other)
        result.update(mapping)
        return result

    def merge(self, event: yaml.Event) -> list[dict[Any, Any]]:
        value = self.node(event)
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, dict) for item in items):
            self.stop("<< (a merge key) takes a mapping or a list of mappings", event)
        return items


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """What `read_yaml` found.

    Attributes:
        data: The document's data (None for an empty document).
        issues: Keys given twice, with their lines (a duplicate's first value is kept).
        shared: Aliases made parts of the data shared (the same objects in several places).
        values: How many values the data holds, aliases counted as what they stand for.
    """

    data: Any
    issues: list[ConfigIssue]
    shared: bool
    values: int


def read_yaml(
    text: str, source: str | None = None, deadline: Deadline | None = None
) -> YamlDocument:
    """Parse one YAML document into plain data, with the problems that did not stop reading.

    Args:
        text: The document.
        source: The file name for messages.
        deadline: When loading must be over.

    Returns:
        The data and what else was found on the way.

    Raises:
        ConfigError: Not valid YAML, past a limit, or something a configuration never holds.
        LoadTimeout: Past the deadline.
    """
    loader = _Base(text)
    reader = _Reader(loader, deadline)
    try:
        data = reader.document()
    except _Stop as stop:
        raise ConfigError([stop.issue], source) from None
    except yaml.YAMLError as exc:
        issue = _syntax_issue(exc)
        if "nesting depth" in issue.message:  # LibYAML's own bound, met while looking ahead
            message = f"nested more than {MAX_DEPTH} levels deep (the limit)"
            issue = ConfigIssue(tuple(reader.path), message, issue.line)
        raise ConfigError([issue], source) from None
    except RecursionError:  # a stack far smaller than MAX_DEPTH needs; still one clear line
        issue = ConfigIssue(tuple(reader.path), "nested too deeply", None)
        raise ConfigError([issue], source) from None
    finally:
        loader.dispose()
    issues: list[ConfigIssue] = []
    if reader.duplicates:
        first = line_index(text, deadline)  # the first of equal keys is the one indexed
        issues = [
            ConfigIssue(path, f"duplicate key (first given on line {first.get(path)})", line)
            for path, line in reader.duplicates
        ]
    return YamlDocument(data, issues, bool(reader.anchors), reader.values)


def parse_yaml(text: str, source: str | None = None) -> Any:
    """Parse one YAML document into plain data.

    Raises:
        ConfigError: Not valid YAML, past a limit, or a key given twice in a mapping.
    """
    document = read_yaml(text, source)
    if document.issues:
        raise ConfigError(document.issues, source)
    return document.data


def _syntax_issue(exc: yaml.YAMLError) -> ConfigIssue:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    line = mark.line + 1 if mark is not None else None
    return ConfigIssue((), f"not valid YAML: {problem}", line)


def line_index(
    text: str, deadline: Deadline | None = None, wanted: Collection[PathT] | None = None
) -> Lines:
    """The line of every key path of a document `read_yaml` accepted (for error messages).

    Read from the event stream without recursion; what aliases stand for is not indexed (a
    problem there is reported at the alias). With `wanted`, reading stops once each of those
    paths has its line: a few problems near the top of a large file need not index the rest
    of it (a path the file lacks still reads it all, for its ancestors' lines).
    """
    index = _LineIndex(wanted)
    loader = _Base(text)
    get_event: Callable[[], yaml.Event] = loader.get_event
    count = 0
    try:
        while not isinstance(event := get_event(), yaml.StreamEndEvent | yaml.DocumentEndEvent):
            count += 1
            if deadline is not None and count % _DEADLINE_EVERY == 0:
                deadline.check()
            index.add(event)
            if index.found_all:
                break
    except (yaml.YAMLError, LoadTimeout):
        # The lines indexed so far: lines help a message, they are not its substance, and the
        # caller reports the YAML error or the timeout itself.
        return index.lines
    finally:
        loader.dispose()
    return index.lines


class _LineIndex:
    def __init__(self, wanted: Collection[PathT] | None = None) -> None:
        self.lines: Lines = {}
        self.frames: list[list[Any]] = []  # [path, is_mapping, next index, pending key]
        # Paths still without a line; None: index everything. Each path's first line is the
        # one kept, so a path found is final.
        self.missing = None if wanted is None else set(wanted)
        self.found_all = False

    def _record(self, path: PathT, line: int) -> None:
        if path in self.lines:
            return
        self.lines[path] = line
        if self.missing is not None:
            self.missing.discard(path)
            self.found_all = not self.missing

    def add(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            self.frames.pop()
        elif isinstance(event, yaml.NodeEvent):
            path = self.path_of(event)
            if path is not None and isinstance(
                event, yaml.MappingStartEvent | yaml.SequenceStartEvent
            ):
                self.frames.append([path, isinstance(event, yaml.MappingStartEvent), 0, None])

    def path_of(self, event: yaml.NodeEvent) -> PathT | None:
        """The node's key path (recorded), or None for a mapping key."""
        line = _line(event) or 0
        if not self.frames:
            self._record((), line)
            return ()
        parent, is_mapping, index, key = self.frames[-1]
        if not is_mapping:
            self.frames[-1][2] += 1
            self._record((*parent, index), line)
            return (*parent, index)
        if key is None:
            if isinstance(event, yaml.ScalarEvent):
                self.frames[-1][3] = event.value
                self._record((*parent, event.value), line)
                return None
            self.frames[-1][3] = "?"  # a complex key: its parts are indexed under "?"
            return (*parent, "?")
        self.frames[-1][3] = None
        return (*parent, key)


def tidy_strings(data: Any, *, shared: bool = False) -> Any:
    """Strip every string (keys too) and share equal ones, before validation.

    A fleet's file names each provider and model several times (as a key, as a model's
    `provider`, in every pool that lists it). Validating strings already stripped and shared
    lets pydantic keep them as they are (its own `str_strip_whitespace` makes a new copy of
    every string), so the configuration holds one string per distinct value for as long as the
    daemon runs (docs/benchmarks.md, "Figures behind the code's comments").

    Args:
        data: Plain data.
        shared: The data shares mappings or lists (YAML aliases): each is tidied once and
            stays shared, so the copy never grows to the expanded size.
    """
    strings: dict[str, str] = {}
    done: dict[int, Any] | None = {} if shared else None

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return strings.setdefault(value, value)
        if not isinstance(value, dict | list):
            return value
        if done is not None and id(value) in done:
            return done[id(value)]
        if isinstance(value, dict):
            out: Any = {walk(k): walk(v) for k, v in value.items()}
        else:
            out = [walk(v) for v in value]
        if done is not None:
            done[id(value)] = out
        return out

    return walk(data)
