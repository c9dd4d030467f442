"""Pool membership exactly as ModelMesh computes it from a YAML file.

ModelMesh (`core/mesh.py` `_setup_pools` with `core/capability_tree.py`, modelmesh-lite 0.1.1)
builds one capability tree for the whole file and fills the pools in file order:

1. every model's capability paths are registered in the tree (in model order);
2. for each pool, in order: its `capability` (else, when it lists no `models`, its own name)
   is registered too, then resolved to the *leaves* below that node; a model joins when one of
   its capabilities is such a leaf and, for a `capability` pool that names `providers`, its
   provider is one of them; then the pool's `models` are added as listed.

Two consequences follow, and are kept because membership must match the router's: a model's
capability that is an inner node of the tree (another model or an earlier pool registered a
path below it) matches no pool; and a short name such as `chat-completion` is a root of its own,
not an alias (modelmesh's aliases apply to `modelmesh.create("chat-completion")` only).

Models without `capabilities` match no capability here: ModelMesh asks a pre-built connector
instance for them, which a YAML file cannot carry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["CapabilityTree", "PoolSpec", "pool_members"]


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)


class CapabilityTree:
    """ModelMesh's capability tree: dotted paths, resolved to the leaves below a node."""

    def __init__(self) -> None:
        self._root = _Node()

    def register(self, path: str) -> None:
        """Add `path` and every ancestor of it (a no-op when present)."""
        node = self._root
        for segment in path.split("."):
            node = node.children.setdefault(segment, _Node())

    def resolve(self, path: str) -> set[str]:
        """The full paths of the leaves at or below `path` (empty when not registered)."""
        node = self._root
        for segment in path.split("."):
            found = node.children.get(segment)
            if found is None:
                return set()
            node = found
        leaves: set[str] = set()
        stack = [(path, node)]
        while stack:
            here, current = stack.pop()
            if not current.children:
                leaves.add(here)
            stack.extend((f"{here}.{name}", child) for name, child in current.children.items())
        return leaves


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """The three membership settings of one ModelMesh pool.

    Attributes:
        capability: The `capability` key (None when absent).
        models: The `models` key (None when absent).
        providers: The `providers` key (None when absent).
    """

    capability: str | None = None
    models: Sequence[str] | None = None
    providers: Sequence[str] | None = None


def pool_members(
    pools: Mapping[str, PoolSpec],
    model_capabilities: Mapping[str, Sequence[str]],
    model_providers: Mapping[str, str],
) -> dict[str, list[str]]:
    """Every pool's members, in ModelMesh's order.

    Args:
        pools: Pool id -> its membership settings, in file order.
        model_capabilities: Model id -> its `capabilities`, in file order.
        model_providers: Model id -> its `provider`.

    Returns:
        Pool id -> member model ids (explicitly listed models that the file does not define
        are included, as ModelMesh includes them).
    """
    tree = CapabilityTree()
    for capabilities in model_capabilities.values():
        for capability in capabilities:
            tree.register(capability)
    out: dict[str, list[str]] = {}
    for pool_id, spec in pools.items():
        members: dict[str, None] = {}
        if spec.capability is not None:
            tree.register(spec.capability)
            leaves = tree.resolve(spec.capability)
            for model, capabilities in model_capabilities.items():
                if leaves.isdisjoint(capabilities):
                    continue
                if spec.providers and model_providers.get(model, "") not in spec.providers:
                    continue
                members[model] = None
        if spec.models is not None:
            members.update(dict.fromkeys(spec.models))
        if not spec.capability and not spec.models:
            tree.register(pool_id)
            leaves = tree.resolve(pool_id)
            members.update(
                (model, None)
                for model, capabilities in model_capabilities.items()
                if not leaves.isdisjoint(capabilities)
            )
        out[pool_id] = list(members)
    return out
