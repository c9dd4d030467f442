"""Which stored rows an event may have changed.

A provider row holds the provider and all its models, so any event about a provider or one of
its models marks that provider's row; the manager serializes it at flush time and writes it only
if its checksum differs from what was last written. This also covers the changes that ride
along without an event of their own (a down provider whose reason changes rewrites its models'
reasons). A model's move between active and standby also marks its pools' rotation counters;
only topology changes (models or providers added or removed) touch pools' member lists.
"""

from __future__ import annotations

from collections.abc import Iterable

from modelmesh_healthd.state.events import (
    Event,
    ModelAdded,
    ModelDeactivated,
    ModelReactivated,
    ModelRemoved,
    OverrideCleared,
    OverrideExpired,
    OverrideSet,
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
from modelmesh_healthd.storage.row_encode import MEMBERS, POOL, PROVIDER

__all__ = ["DirtySet"]

# An override lives in its provider's row (on the provider or one of its models).
_PROVIDER_EVENTS = (
    ProbeCompleted,
    ProviderDown,
    ProviderUp,
    ProviderReasonChanged,
    OverrideSet,
    OverrideExpired,
    OverrideCleared,
)


class DirtySet:
    """Row keys that may differ from the store, per kind."""

    __slots__ = ("keys",)

    def __init__(self) -> None:
        self.keys: dict[str, set[str]] = {PROVIDER: set(), POOL: set(), MEMBERS: set()}

    def __len__(self) -> int:
        # Asked after every probe's record: three lengths, not a generator over them.
        keys = self.keys
        return len(keys[PROVIDER]) + len(keys[POOL]) + len(keys[MEMBERS])

    def take(self) -> dict[str, set[str]]:
        """Hand the keys over and start empty."""
        taken = self.keys
        self.keys = {PROVIDER: set(), POOL: set(), MEMBERS: set()}
        return taken

    def merge(self, keys: dict[str, set[str]]) -> None:
        """Put keys back (a failed write)."""
        for kind, some in keys.items():
            self.keys[kind] |= some

    def clear(self) -> None:
        """Forget everything (a full save is coming)."""
        for some in self.keys.values():
            some.clear()

    def _membership_changed(self, mesh: Mesh, model: str) -> None:
        for pool in mesh.model_pools.get(model, ()):
            self.keys[POOL].add(pool)
            self.keys[MEMBERS].add(pool)

    def add_events(self, mesh: Mesh, events: Iterable[Event]) -> None:
        """Mark what `events` may have changed.

        Args:
            mesh: The topology the state was reconciled to (maps models to providers and pools).
            events: The events of one transition.
        """
        keys = self.keys
        for event in events:
            if isinstance(event, _PROVIDER_EVENTS):
                keys[PROVIDER].add(event.provider)
            elif isinstance(event, ModelDeactivated | ModelReactivated):
                keys[PROVIDER].add(event.provider)
                if event.pool is not None:
                    keys[POOL].add(event.pool)
            elif isinstance(event, PoolEmpty | PoolRestored):
                keys[POOL].add(event.pool)
            elif isinstance(event, ProviderAdded | ProviderRemoved):
                keys[PROVIDER].add(event.provider)
                for model in mesh.provider_models.get(event.provider, ()):
                    self._membership_changed(mesh, model)
            elif isinstance(event, ModelAdded):
                keys[PROVIDER].add(event.provider)
                self._membership_changed(mesh, event.model)
            elif isinstance(event, ModelRemoved):
                provider = mesh.model_provider.get(event.model)
                if provider is not None:
                    keys[PROVIDER].add(provider)
                self._membership_changed(mesh, event.model)
