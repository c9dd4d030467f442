"""Property: whatever YAML is thrown at the loader, it answers with a Config or a ConfigError,
never another exception (no RecursionError, MemoryError, TypeError from deep inside)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelmesh_healthd.config import ConfigError, load_config_text

_anchor = st.sampled_from(["a", "b", "c"])
_KEYS = [
    "providers",
    "models",
    "pools",
    "p",
    "kind",
    "api_key",
    "base_url",
    "schedule",
    "timeout",
    "<<",
    "provider",
    "interval",
    "1",
    "true",
    "~",
    "'<<'",
    "!!str x",
    "? [k]",
    "*a",
]
_key = st.sampled_from(_KEYS)
_SCALARS = [
    "openai",
    "ollama",
    "1",
    "0.5",
    "30s",
    "~",
    "true",
    "<<",
    "x",
    "''",
    '"\\t"',
    "-",
    "${X}",
    "${X:-d}",
    "${NOPE}",
    "${file:.}",
    "${file:/dev/zero}",
    "${file:/dev/null}",
    "${file:}",
    "$${X}",
    "!!int x",
    "!!binary ??",
    "!!float 1",
    "2026-13-45",
    "!vault s",
    "!!set {a}",
    "!!omap [a: 1]",
    "http://127.0.0.1:9/v1",
    "{",
    "]",
    ": :",
    "\ufeff",
]
_scalar = st.sampled_from(_SCALARS) | st.text(max_size=6)


def _collection(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    flow_map = st.lists(st.tuples(_key, inner), max_size=4).map(
        lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    )
    flow_seq = st.lists(inner, max_size=4).map(lambda items: "[" + ", ".join(items) + "]")
    return flow_map | flow_seq


_node = st.recursive(_scalar, _collection, max_leaves=12)


@st.composite
def _decorated(draw: st.DrawFn) -> str:
    # A node, perhaps anchored; or an alias, perhaps to nothing; or a merge of aliases.
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return f"&{draw(_anchor)} {draw(_node)}"
    if choice == 1:
        return f"*{draw(_anchor)}"
    if choice == 2:
        aliases = draw(st.lists(_anchor, min_size=1, max_size=9))
        return "{<<: [" + ", ".join(f"*{a}" for a in aliases) + "]}"
    return draw(_node)


@st.composite
def _bomb(draw: st.DrawFn) -> str:
    levels, fan = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    first = "l0: &l0 [" + ", ".join(["x"] * fan) + "]"
    rest = [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * fan) + "]" for i in range(1, levels)]
    return "\n".join([first, *rest])


_deep = st.tuples(st.integers(0, 3000), st.integers(0, 3000), st.sampled_from(["[", "{a: "]))

_document = st.one_of(
    st.lists(st.tuples(_key, _decorated()), max_size=8).map(
        lambda pairs: "".join(f"{k}: {v}\n" for k, v in pairs)
    ),
    _bomb(),
    _deep.map(lambda d: "k: " + d[2] * d[0] + ("]" if d[2] == "[" else "}") * d[1]),
    st.text(max_size=80),
)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(_document, st.sampled_from(["", "\ufeff", "%YAML 1.1\n---\n"]), st.booleans())
def test_any_hostile_yaml_gives_a_config_or_a_config_error(
    text: str, prefix: str, crlf: bool
) -> None:
    document = prefix + (text.replace("\n", "\r\n") if crlf else text)
    try:
        load_config_text(document, source="h.yaml", environ={"X": "v"}, base_dir=Path("/"))
    except ConfigError as exc:
        rendered = exc.render().splitlines()
    else:
        rendered = []
    assert all(line.startswith("h.yaml") for line in rendered)
