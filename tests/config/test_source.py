"""Reading YAML: the event-stream reader gives exactly what `yaml.load` gives, or says why not."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmesh_healthd.config.errors import ConfigError
from modelmesh_healthd.config.loader import load_config_text
from modelmesh_healthd.config.source import line_index, parse_yaml, tidy_strings

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def reference(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


PLAIN = [
    "",
    "---\n",
    "a: 1\n",
    "a: 1\nb: [x, 'y', \"z\"]\n",
    "n: null\nt: true\nf: no\nx: 1.5\ne: 1e3\nh: 0x1F\no: 0o17\ninf: .inf\nneg: -3\n",
    "d: 2026-11-25\nts: 2026-11-25T10:00:00Z\n",
    "q: '1'\nr: \"true\"\ns: ~\nt: ''\n",
    "bin: !!binary aGVsbG8=\nstr: !!str 12\nint: !!int '7'\n",
    "1: one\n'2': two\ntrue: yes\n",
    "list:\n  - a\n  - {b: c}\n  - [1, [2, [3]]]\n",
    "multi: |\n  line one\n  line two\nfolded: >\n  a\n  b\n",
    "%YAML 1.1\n---\nk: v\n...\n",
    "key with spaces: value with spaces\n",
    "- 1\n- two\n",
    "just a scalar\n",
]


@pytest.mark.parametrize("text", PLAIN)
def test_plain_documents_read_as_yaml_load_reads_them(text: str) -> None:
    assert parse_yaml(text) == reference(text)


ALIASED = [
    "base: &b {x: 1}\nother: *b\n",
    "base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n",
    "b: &b {x: 1, y: 1}\nc: &c {y: 2, z: 2}\nd: {<<: [*b, *c], w: 3}\n",
    "d: {w: 3, <<: {w: 4, q: 5}}\n",
    "d: {<<: &m {a: 1}, b: *m}\n",
    "s: &s text\nt: [*s, *s]\n",
    "deep: &d {a: {b: [1, 2]}}\nx: {<<: *d, c: 3}\n",
    "k: !!str <<\n",
]


@pytest.mark.parametrize("text", ALIASED)
def test_anchors_aliases_and_merge_keys_read_as_yaml_load_reads_them(text: str) -> None:
    got = parse_yaml(text)
    assert got == reference(text)
    assert list(got) == list(reference(text))  # key order too: providers are probed in it


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("s: !!set {a, b}\n", "f.yaml:1: s: YAML tag !!set is not supported in a configuration"),
        ("o: !!omap [a: 1]\n", "f.yaml:1: o: YAML tag !!omap is not supported in a configuration"),
        ("v: !vault abc\n", "f.yaml:1: v: YAML tag !vault is not supported in a configuration"),
        (
            "? [a, b]\n: complex key\n",
            "f.yaml:1: (top level): a mapping key must be a string, number or boolean, "
            "not a collection",
        ),
        (
            "a: &k x\n*k : y\n",
            "f.yaml:2: (top level): a mapping key must be a string, number or boolean, "
            "not an alias",
        ),
        (
            "a: 1\n---\nb: 2\n",
            "f.yaml:2: (top level): a second YAML document starts here: "
            "a configuration is one document",
        ),
        ("a: &x 1\nb: &x 2\n", "f.yaml:2: b: anchor &x is defined twice (first on line 1)"),
        ("a: &a [1, *a]\n", "f.yaml:1: a[1]: alias *a refers to a collection that contains it"),
        ("a: *later\nb: &later 1\n", "f.yaml:1: a: alias *later names no anchor defined before it"),
        ("a: <<\n", "f.yaml:1: a: << (a merge key) is only allowed as a mapping key"),
        ("a: {<<: 1}\n", "f.yaml:1: a.<<: << (a merge key) takes a mapping or a list of mappings"),
        ("a: !!int x\n", "f.yaml:1: a: not a valid !!int value"),
        ("a: 2026-13-45\n", "f.yaml:1: a: not a valid !!timestamp value"),
    ],
)
def test_what_a_configuration_never_holds_is_refused_with_its_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_yaml(text, "f.yaml")
    assert caught.value.render() == message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nb: 2\na: 3\n", 3),
        ("a: 1\n'a': 2\n", 2),
        ("p:\n  x: 1\n  y: 2\n  x: 3\n", 4),
        ("1: a\n'1': b\n", 2),  # the same key as written, whatever it resolves to
    ],
)
def test_a_key_given_twice_is_reported_with_its_line(text: str, line: int) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_yaml(text, "f.yaml")
    assert f"f.yaml:{line}:" in str(caught.value)
    assert "duplicate key" in str(caught.value)


@pytest.mark.parametrize("text", ["a: [1, 2\n", "a: b: c\n", "a:\n\t- x\n", "'unterminated\n"])
def test_invalid_yaml_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_yaml(text, "f.yaml")


def test_equal_strings_are_one_object() -> None:
    data = parse_yaml("a: {provider: p1}\nb: {provider: p1}\np1: x\n")
    key = next(k for k in data if k == "p1")
    assert data["a"]["provider"] is data["b"]["provider"] is key


def test_a_loaded_config_names_each_provider_with_one_string() -> None:
    config = load_config_text(
        "providers:\n  p1: {kind: openai, api_key: k}\n"
        "models:\n  p1.m: {provider: ' p1 '}\n"
        "pools:\n  chat: {models: [p1.m]}\n",
        environ={},
    )
    provider_key = next(iter(config.providers))
    model_key = next(iter(config.models))
    assert config.models["p1.m"].provider is provider_key  # stripped, then shared
    assert config.pools["chat"].models[0] is model_key


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({" a ": [" x", "y ", 1, None]}, {"a": ["x", "y", 1, None]}),
        ({"k": "\tv\n"}, {"k": "v"}),
        ([{"a": "b"}, "c "], [{"a": "b"}, "c"]),
        ("  ", ""),
    ],
)
def test_tidy_strings_strips_keys_and_values(data: Any, expected: Any) -> None:
    assert tidy_strings(data) == expected


# Plain data as a configuration holds it: nested mappings and lists of scalars.
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.dates()
    | st.datetimes(timezones=st.just(datetime.UTC))
)
_keys = st.text(max_size=12) | st.integers(-1000, 1000) | st.booleans()


def _mappings(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[Any, Any]]:
    # Keys written alike (1 and '1', True and 'true') are one key to the reader, as to the loader
    # before it: a duplicate, tested above. Generated mappings avoid them.
    return st.dictionaries(_keys, inner, max_size=4).filter(
        lambda d: len({str(k).lower() for k in d}) == len(d)
    )


_plain = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | _mappings(inner), max_leaves=20
)


@settings(max_examples=300, deadline=None)
@given(_plain, st.sampled_from([None, False, True]), st.sampled_from([None, "'", '"', "|"]))
def test_any_plain_document_reads_as_yaml_load_reads_it(
    data: Any, flow: bool | None, style: str | None
) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, default_style=style, allow_unicode=True)
    assert parse_yaml(text) == reference(text)


def test_the_line_index_names_the_line_of_every_key_and_list_item() -> None:
    text = "a:\n  b: 1\n  c:\n    - x\n    - {d: 2}\ne: &e {f: 3}\ng: *e\n"
    assert line_index(text) == {
        (): 1,
        ("a",): 1,
        ("a", "b"): 2,
        ("a", "c"): 3,
        ("a", "c", 0): 4,
        ("a", "c", 1): 5,
        ("a", "c", 1, "d"): 5,
        ("e",): 6,
        ("e", "f"): 6,
        ("g",): 7,
    }


@pytest.mark.parametrize(
    ("wanted", "indexed"),
    [
        ({()}, {(): 1}),
        ({("a", "b")}, {(): 1, ("a",): 1, ("a", "b"): 2}),
        # A list item's line, then nothing after it.
        ({("a", "c", 0)}, {(): 1, ("a",): 1, ("a", "b"): 2, ("a", "c"): 3, ("a", "c", 0): 4}),
        # The last of several wanted paths ends the reading, wherever it is.
        (
            {("e",), ("a", "b")},
            {
                (): 1,
                ("a",): 1,
                ("a", "b"): 2,
                ("a", "c"): 3,
                ("a", "c", 0): 4,
                ("a", "c", 1): 5,
                ("a", "c", 1, "d"): 5,
                ("e",): 6,
            },
        ),
    ],
)
def test_the_line_index_stops_reading_once_it_has_the_wanted_lines(
    wanted: set[tuple[str | int, ...]], indexed: dict[tuple[str | int, ...], int]
) -> None:
    text = "a:\n  b: 1\n  c:\n    - x\n    - {d: 2}\ne: &e {f: 3}\ng: *e\n"
    assert line_index(text, wanted=wanted) == indexed


def test_a_wanted_path_the_file_lacks_indexes_all_of_it_for_its_ancestors() -> None:
    text = "a:\n  b: 1\nz: 2\n"
    assert line_index(text, wanted={("a", "missing")}) == line_index(text)


@settings(max_examples=200, deadline=None)
@given(_plain, st.data())
def test_wanted_lines_are_the_full_index_lines(data: Any, draw: st.DataObject) -> None:
    text = yaml.safe_dump(data, default_flow_style=False, allow_unicode=True)
    full = line_index(text)
    wanted = draw.draw(st.sets(st.sampled_from(sorted(full, key=repr)))) if full else set()
    part = line_index(text, wanted=wanted)
    assert {path: part[path] for path in wanted} == {path: full[path] for path in wanted}
    assert part.items() <= full.items()


def test_the_loader_locates_each_issue_of_a_large_file_at_its_own_line() -> None:
    # The loader asks the index for its issues' paths only: the first one near the top, the
    # second at the very end.
    many = "".join(f"  p{i}: {{kind: openai, api_key: sk-test}}\n" for i in range(2000))
    text = "providers:\n  first: {kind: nonsense}\n" + many + "nonsense: 1\n"
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, source="c.yaml")
    assert [line.split(": ")[0:2] for line in str(caught.value).splitlines()] == [
        ["c.yaml:2", "providers.first.kind"],
        ["c.yaml:2003", "nonsense"],
    ]
