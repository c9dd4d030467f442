"""Which stored rows an event may have changed.

The core's events name what changed; a few changes ride along without an event of their own (a
down provider whose reason changes rewrites its models' reasons; a model found missing while its
provider is down changes its reason). So a provider's probe marks the provider and all its
models as *candidates*; the manager serializes candidates at flush time and writes only those
whose checksum differs from what was last written. A probe costs one provider and its handful of
models, whatever the size of the fleet.
"""

from __future__ import annotations

from collections.abc import Iterable

from modelmesh_healthd.state.events import (
    Event,
    ModelAdded,
    ModelDeactivated,
    ModelReactivated,
    ModelRemoved,
    PoolEmpty,
    PoolRestored,
    ProbeCompleted,
    ProviderAdded,
    ProviderDown,
    ProviderReasonChanged,
    ProviderRemoved,
    ProviderUp,
)
from modelmesh_healthd.state.mesh import Mesh
from modelmesh_healthd.storage.rows import MEMBERS, MODEL, POOL, PROVIDER

__all__ = ["DirtySet"]

_PROVIDER_EVENTS = (ProbeCompleted, ProviderDown, ProviderUp, ProviderReasonChanged)


class DirtySet:
    """Row keys that may differ from the store, per kind."""

    __slots__ = ("keys",)

    def __init__(self) -> None:
        self.keys: dict[str, set[str]] = {
            PROVIDER: set(),
            MODEL: set(),
            POOL: set(),
            MEMBERS: set(),
        }

    def __len__(self) -> int:
        return sum(len(k) for k in self.keys.values())

    def take(self) -> dict[str, set[str]]:
        """Hand the keys over and start empty."""
        taken = self.keys
        self.keys = {PROVIDER: set(), MODEL: set(), POOL: set(), MEMBERS: set()}
        return taken

    def merge(self, keys: dict[str, set[str]]) -> None:
        """Put keys back (a failed write)."""
        for kind, some in keys.items():
            self.keys[kind] |= some

    def clear(self) -> None:
        """Forget everything (a full save is coming)."""
        for some in self.keys.values():
            some.clear()

    def _provider_and_models(self, mesh: Mesh, provider: str) -> None:
        self.keys[PROVIDER].add(provider)
        self.keys[MODEL].update(mesh.provider_models.get(provider, ()))

    def _model_everywhere(self, mesh: Mesh, model: str) -> None:
        """A model that joins or leaves: its row and the member lists of its pools."""
        self.keys[MODEL].add(model)
        for pool in mesh.model_pools.get(model, ()):
            self.keys[POOL].add(pool)
            self.keys[MEMBERS].add(pool)

    def add_events(self, mesh: Mesh, events: Iterable[Event]) -> None:
        """Mark what `events` may have changed.

        Args:
            mesh: The topology the state was reconciled to (maps providers to models, models to
                pools).
            events: The events of one transition.
        """
        keys = self.keys
        for event in events:
            if isinstance(event, _PROVIDER_EVENTS):
                self._provider_and_models(mesh, event.provider)
            elif isinstance(event, ModelDeactivated | ModelReactivated):
                keys[MODEL].add(event.model)
                keys[PROVIDER].add(event.provider)
                if event.pool is not None:
                    keys[POOL].add(event.pool)  # rotation counters; membership is unchanged
            elif isinstance(event, PoolEmpty | PoolRestored):
                keys[POOL].add(event.pool)
            elif isinstance(event, ProviderAdded | ProviderRemoved):
                self._provider_and_models(mesh, event.provider)
                for model in mesh.provider_models.get(event.provider, ()):
                    self._model_everywhere(mesh, model)
            elif isinstance(event, ModelAdded):
                keys[PROVIDER].add(event.provider)
                self._model_everywhere(mesh, event.model)
            elif isinstance(event, ModelRemoved):
                self._model_everywhere(mesh, event.model)
