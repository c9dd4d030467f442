"""Pools of a ModelMesh file hold exactly the members a real ModelMesh gives them.

Each comparison builds both from the same YAML dict: our loader, and modelmesh-lite 0.1.1's
`ModelMesh.initialize` (the code a router runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelmesh_healthd.config import load_config, load_config_text
from modelmesh_healthd.config.modelmesh_pools import CapabilityTree, PoolSpec, pool_members

modelmesh = pytest.importorskip("modelmesh")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "modelmesh"
KEYS = dict.fromkeys(
    ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GROQ_API_KEY", "HF_API_KEY", "DEEPSEEK_API_KEY"),
    "sk-test",
)


def modelmesh_pools(document: dict[str, Any]) -> dict[str, list[str]]:
    """Pool id -> member model ids, as modelmesh-lite builds them from `document`."""
    mesh = modelmesh.ModelMesh()
    mesh.initialize(modelmesh.MeshConfig.from_dict(document))
    return {pid: [m.model_id for m in pool.models] for pid, pool in mesh.pools.items()}


def our_pools(config: Any) -> dict[str, list[str]]:
    """Pool id -> members as the daemon tracks them, with the empty pools it reports."""
    found = {pid: config.pool_members(pid) for pid in config.pools}
    found.update({pid: [] for pid in config.modelmesh.empty_pools})
    return found


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_file_gives_each_pool_the_members_modelmesh_gives_it(path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    config = load_config(path, environ=KEYS)
    assert our_pools(config) == modelmesh_pools(document)


# -- the rule, case by case -------------------------------------------------------------------

CHAT = "generation.text-generation.chat-completion"


@pytest.mark.parametrize(
    ("models", "pools", "expected"),
    [
        pytest.param(
            {"a": [CHAT], "b": ["generation.image.text-to-image"]},
            {"gen": PoolSpec(capability="generation")},
            {"gen": ["a", "b"]},
            id="an ancestor capability takes every model below it",
        ),
        pytest.param(
            {"a": [CHAT]},
            {"chat": PoolSpec(capability="chat-completion")},
            {"chat": []},
            id="a short name is a root of its own, not an alias",
        ),
        pytest.param(
            {"a": ["generation.text-generation"], "b": [CHAT]},
            {"text": PoolSpec(capability="generation.text-generation")},
            {"text": ["b"]},
            id="a capability that is an inner node of the tree matches no pool",
        ),
        pytest.param(
            {"a": [CHAT]},
            {
                "deep": PoolSpec(capability=CHAT + ".fast"),
                "chat": PoolSpec(capability=CHAT),
            },
            {"deep": [], "chat": []},
            id="a pool registering a deeper path hides the models of later pools",
        ),
        pytest.param(
            {"a": ["text-generation"], "b": [CHAT]},
            {"text-generation": PoolSpec()},
            {"text-generation": ["a"]},
            id="a pool with neither capability nor models uses its own name",
        ),
        pytest.param(
            {"a": [CHAT], "b": [CHAT]},
            {"chat": PoolSpec(capability=CHAT, providers=["p1"])},
            {"chat": ["a"]},
            id="providers filter the capability matches",
        ),
        pytest.param(
            {"a": ["chat"], "b": ["chat"]},
            {"chat": PoolSpec(providers=["p1"])},
            {"chat": ["a", "b"]},
            id="providers do not filter a pool that falls back to its name",
        ),
        pytest.param(
            {"a": [CHAT], "b": ["other"], "c": []},
            {"chat": PoolSpec(capability=CHAT, models=["c", "a", "c"])},
            {"chat": ["a", "c"]},
            id="listed models follow the capability matches once each",
        ),
        pytest.param(
            {"a": ["chat"]},
            {"chat": PoolSpec(models=[])},
            {"chat": ["a"]},
            id="an empty model list still falls back to the pool name",
        ),
    ],
)
def test_pool_members_follow_modelmesh_rule(
    models: dict[str, list[str]], pools: dict[str, PoolSpec], expected: dict[str, list[str]]
) -> None:
    providers = {"a": "p1", "b": "p2", "c": "p1"}
    assert pool_members(pools, models, providers) == expected
    assert modelmesh_pools(_document(models, pools, providers)) == expected


def test_the_tree_resolves_a_node_to_the_leaves_below_it() -> None:
    tree = CapabilityTree()
    for path in ("a.b.c", "a.b.d", "a.e", "f"):
        tree.register(path)
    assert tree.resolve("a") == {"a.b.c", "a.b.d", "a.e"}
    assert tree.resolve("a.b.c") == {"a.b.c"}
    assert tree.resolve("a.x") == set()


# -- the property: any capability tree, any pools ---------------------------------------------

_segment = st.sampled_from(["g", "t", "chat", "img"])
_path = st.lists(_segment, min_size=1, max_size=3).map(".".join)
_MODEL_IDS = ["m0", "m1", "p.m2", "m3", "p.m4"]
_PROVIDERS = ["openai.llm.v1", "ollama.local.v1"]


@st.composite
def _meshes(
    draw: st.DrawFn, *, defined_only: bool = False
) -> tuple[dict[str, list[str]], dict[str, str], dict[str, PoolSpec]]:
    """Models with capability paths, and pools over them.

    With `defined_only`, pools list only defined models (the loader calls others a typo;
    ModelMesh adds them as members that cannot route).
    """
    ids = draw(st.lists(st.sampled_from(_MODEL_IDS), unique=True, max_size=5))
    models = {m: draw(st.lists(_path, max_size=3)) for m in ids}
    owners = {m: draw(st.sampled_from(_PROVIDERS)) for m in ids}
    listable = ids if defined_only else _MODEL_IDS
    listed = st.lists(st.sampled_from(listable), max_size=3) if listable else st.just([])
    pool_ids = draw(st.lists(_path, min_size=1, max_size=4, unique=True))
    pools = {
        pid: PoolSpec(
            capability=draw(st.none() | _path),
            models=draw(st.none() | listed),
            providers=draw(st.none() | st.lists(st.sampled_from(_PROVIDERS), max_size=2)),
        )
        for pid in pool_ids
    }
    return models, owners, pools


def _document(
    models: dict[str, list[str]], pools: dict[str, PoolSpec], owners: dict[str, str]
) -> dict[str, Any]:
    def pool(spec: PoolSpec) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("capability", "models", "providers"):
            if getattr(spec, key) is not None:
                out[key] = getattr(spec, key)
        return out

    return {
        "providers": {
            "openai.llm.v1": {"api_key": "sk-test"},
            "ollama.local.v1": {},
        },
        "models": {
            mid: {"provider": owners.get(mid, "openai.llm.v1"), "capabilities": caps}
            for mid, caps in models.items()
        },
        "pools": {pid: pool(spec) for pid, spec in pools.items()},
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_meshes())
def test_any_capability_tree_gives_modelmesh_members(
    mesh: tuple[dict[str, list[str]], dict[str, str], dict[str, PoolSpec]],
) -> None:
    models, owners, pools = mesh
    assert pool_members(pools, models, owners) == modelmesh_pools(_document(models, pools, owners))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_meshes(defined_only=True))
def test_any_file_loads_with_modelmesh_members(
    mesh: tuple[dict[str, list[str]], dict[str, str], dict[str, PoolSpec]],
) -> None:
    models, owners, pools = mesh
    document = _document(models, pools, owners)
    config = load_config_text(yaml.safe_dump(document, sort_keys=False), environ={})
    assert our_pools(config) == modelmesh_pools(document)
