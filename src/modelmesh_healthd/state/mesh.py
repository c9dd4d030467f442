"""Mesh: the topology of providers, models and pools that the configuration describes.

Immutable and precomputed both ways (provider -> models, model -> pools) so that a transition
touches only what it changes, whatever the size of the fleet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["Mesh", "MeshError"]


class MeshError(ValueError):
    """A topology that refers to something that does not exist."""


@dataclass(frozen=True, slots=True, eq=False)
class Mesh:
    """Providers, their models, and the pools that hold the models.

    Build it with `Mesh.build`; the fields are read-only views.

    Attributes:
        providers: Provider ids in configuration order.
        model_provider: Model id -> provider id.
        pools: Pool id -> member model ids.
        disabled: Models the configuration puts in manual standby.
        provider_models: Provider id -> its model ids (derived).
        model_pools: Model id -> the pools that hold it (derived).
    """

    providers: tuple[str, ...]
    model_provider: Mapping[str, str]
    pools: Mapping[str, tuple[str, ...]]
    disabled: frozenset[str]
    provider_models: Mapping[str, tuple[str, ...]]
    model_pools: Mapping[str, tuple[str, ...]]

    @classmethod
    def build(
        cls,
        providers: Iterable[str],
        models: Mapping[str, str],
        pools: Mapping[str, Iterable[str]] | None = None,
        disabled: Iterable[str] = (),
    ) -> Mesh:
        """Check and index a topology.

        Args:
            providers: Provider ids.
            models: Model id -> provider id.
            pools: Pool id -> model ids (a model may sit in several pools).
            disabled: Model ids held in manual standby.

        Raises:
            MeshError: A model names an unknown provider, a pool an unknown model, or a disabled
                id is not a model.
        """
        provider_ids = tuple(dict.fromkeys(providers))
        known = set(provider_ids)
        provider_models: dict[str, list[str]] = {p: [] for p in provider_ids}
        for model, provider in models.items():
            if provider not in known:
                raise MeshError(f"model {model!r} names unknown provider {provider!r}")
            provider_models[provider].append(model)
        pool_members: dict[str, tuple[str, ...]] = {}
        model_pools: dict[str, list[str]] = {m: [] for m in models}
        for pool, members in (pools or {}).items():
            unique = tuple(dict.fromkeys(members))
            for model in unique:
                if model not in models:
                    raise MeshError(f"pool {pool!r} names unknown model {model!r}")
                model_pools[model].append(pool)
            pool_members[pool] = unique
        off = frozenset(disabled)
        stray = off - models.keys()
        if stray:
            raise MeshError(f"disabled models {sorted(stray)} are not configured")
        # Most models share their few pool combinations: one tuple per combination, not per
        # model (a fleet of 100,000 models in 3 pools keeps 3 tuples, not 100,000).
        combos: dict[tuple[str, ...], tuple[str, ...]] = {}
        shared_pools: dict[str, tuple[str, ...]] = {}
        for model, in_pools in model_pools.items():
            combo = tuple(in_pools)
            shared_pools[model] = combos.setdefault(combo, combo)
        return cls(
            providers=provider_ids,
            model_provider=MappingProxyType(dict(models)),
            pools=MappingProxyType(pool_members),
            disabled=off,
            provider_models=MappingProxyType({p: tuple(m) for p, m in provider_models.items()}),
            model_pools=MappingProxyType(shared_pools),
        )
