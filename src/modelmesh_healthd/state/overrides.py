"""Overrides with a time to live: an operator's drain, or a configured maintenance window.

An override holds one provider or one model for a while:

* a held **provider**'s active models go to standby with reason `maintenance_window`
  (ModelMesh's own `DeactivationReason` word, so a router reading the state understands it);
  its probes go on, but `observe` keeps their results from changing its health;
* a held **model** alone goes to standby the same way, and the provider's fan-out leaves it where
  it is (a provider going down or up does not move it);
* when the override ends (`undrain`, or its end time passes: expiry is decided from `now` only),
  exactly what it put on standby is released, then health follows the probes again.

The override lives on the held object itself (`override_*` fields of ProviderState and
ModelState), so every store persists it with the row it already writes, and an older reader
ignores the fields. Pure: no I/O, no clock.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from modelmesh_healthd.state.events import Event, OverrideCleared, OverrideExpired, OverrideSet
from modelmesh_healthd.state.mesh import Mesh
from modelmesh_healthd.state.model import ModelState
from modelmesh_healthd.state.outcome import PROVIDER_REASONS, DeactivationReason
from modelmesh_healthd.state.policy import DEFAULT_POLICY, HealthPolicy
from modelmesh_healthd.state.provider import ProviderState
from modelmesh_healthd.state.system import SystemState
from modelmesh_healthd.state.transition import FanOut, provider_reason

__all__ = [
    "MAINTENANCE",
    "MODEL",
    "OPERATOR",
    "PROVIDER",
    "Override",
    "OverrideError",
    "OverrideIndex",
    "clear_override",
    "expire_due",
    "expire_overrides",
    "is_held",
    "list_overrides",
    "resolve_target",
    "set_override",
]

PROVIDER, MODEL = "provider", "model"
OPERATOR = "operator"
MAINTENANCE: str = DeactivationReason.MAINTENANCE_WINDOW
"""The deactivation reason an override gives the models it puts on standby."""

_Held = ProviderState | ModelState


class OverrideError(ValueError):
    """An override request that cannot apply: unknown or ambiguous target, bad end time."""


@dataclass(frozen=True, slots=True)
class Override:
    """One override as observers show it.

    Attributes:
        target: The provider or model id.
        kind: `provider` or `model`.
        until: Unix time it ends.
        reason: The stated reason.
        set_at: Unix time it was set.
        source: `operator` or `schedule:<window>`.
    """

    target: str
    kind: str
    until: float
    reason: str
    set_at: float
    source: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the admin API's and `status`'s)."""
        return {
            "target": self.target,
            "kind": self.kind,
            "until": self.until,
            "reason": self.reason,
            "set_at": self.set_at,
            "source": self.source,
        }


def is_held(obj: _Held, now: float) -> bool:
    """Whether an override holds `obj` at `now` (an override ending at `now` no longer does)."""
    return obj.override_until is not None and now < obj.override_until


def resolve_target(mesh: Mesh, target: str) -> str:
    """`provider` or `model`: what `target` names in the mesh.

    Raises:
        OverrideError: It names neither, or both (then it cannot be told apart).
    """
    is_provider = target in mesh.provider_models
    is_model = target in mesh.model_provider
    if is_provider and is_model:
        raise OverrideError(f"{target!r} is both a provider and a model id; cannot tell which")
    if is_provider:
        return PROVIDER
    if is_model:
        return MODEL
    raise OverrideError(f"no provider or model {target!r} in the configuration")


def list_overrides(state: SystemState, now: float) -> list[Override]:
    """Every override in force at `now`, providers first, each group sorted by id."""
    out: list[Override] = []
    for kind, table in ((PROVIDER, state.providers), (MODEL, state.models)):
        for name in sorted(table):
            obj = table[name]
            if is_held(obj, now):
                out.append(_view(name, kind, obj))
    return out


def set_override(
    mesh: Mesh,
    state: SystemState,
    target: str,
    *,
    until: float,
    reason: str,
    now: float,
    source: str = OPERATOR,
    policy: HealthPolicy = DEFAULT_POLICY,
) -> list[Event]:
    """Hold `target` until `until`; setting it again replaces the end time and reason.

    Raises:
        OverrideError: Unknown target, or `until` is not after `now`.
    """
    kind = resolve_target(mesh, target)
    if not until > now:
        raise OverrideError(f"override of {target!r} must end after now")
    obj: _Held = state.providers[target] if kind == PROVIDER else state.models[target]
    obj.override_until, obj.override_reason = until, reason
    obj.override_set_at, obj.override_source = now, source
    provider = target if kind == PROVIDER else mesh.model_provider[target]
    events: list[Event] = [OverrideSet(target, kind, provider, until, reason, source)]
    models = mesh.provider_models[target] if kind == PROVIDER else (target,)
    fan = FanOut(mesh, state, now, events, policy)
    for model in models:
        if state.models[model].is_active:
            fan.deactivate(model, MAINTENANCE)
    state.providers[provider].active_model_count += fan.active_delta
    state.timestamp = now
    return events


def clear_override(
    mesh: Mesh,
    state: SystemState,
    target: str,
    now: float,
    *,
    expired: bool = False,
    policy: HealthPolicy = DEFAULT_POLICY,
) -> list[Event]:
    """End the override on `target` and release what it put on standby.

    A released model comes back if its provider is healthy, or waits in standby with the
    provider's own reason if not; a model frozen while its provider changed follows the provider.

    Returns:
        `override.cleared` (or `override.expired`) and the moves; nothing if no override was set.

    Raises:
        OverrideError: Unknown target.
    """
    kind = resolve_target(mesh, target)
    obj: _Held = state.providers[target] if kind == PROVIDER else state.models[target]
    if obj.override_until is None:
        return []
    obj.override_until = obj.override_reason = obj.override_set_at = obj.override_source = None
    provider = target if kind == PROVIDER else mesh.model_provider[target]
    events: list[Event] = [
        (OverrideExpired if expired else OverrideCleared)(target, kind, provider)
    ]
    ps = state.providers[provider]
    if kind == MODEL and is_held(ps, now):
        return events  # still held by its provider's override: that one releases it
    models = mesh.provider_models[provider] if kind == PROVIDER else (target,)
    fan = FanOut(mesh, state, now, events, policy)
    healthy = ps.is_healthy(policy)
    for model in models:
        ms = state.models[model]
        if model in mesh.disabled or is_held(ms, now):
            continue
        _settle(fan, model, ms, ps, healthy=healthy)
    ps.active_model_count += fan.active_delta
    state.timestamp = now
    return events


def expire_overrides(
    mesh: Mesh,
    state: SystemState,
    now: float,
    *,
    providers: Iterable[str] | None = None,
    policy: HealthPolicy = DEFAULT_POLICY,
) -> list[Event]:
    """End every override whose end time is at or before `now`.

    Args:
        providers: Look only at these providers and their models (`observe` passes the probed
            one); None looks at the whole mesh.
    """
    names = mesh.providers if providers is None else providers
    due: list[str] = []
    for provider in names:
        due.extend(m for m in mesh.provider_models[provider] if _ended(state.models[m], now))
        if _ended(state.providers[provider], now):
            due.append(provider)  # after its models: the provider's release sees them free
    events: list[Event] = []
    for target in due:
        events += clear_override(mesh, state, target, now, expired=True, policy=policy)
    return events


@dataclass(slots=True)
class OverrideIndex:
    """The overrides in force, by end time: the tick ends what is due without a fleet scan.

    A hint, checked against the state: an entry whose override was cleared, replaced or
    extended since is dropped when its time comes (`expire_overrides` ends only what the state
    says has ended). So it must only never miss one: it is told of every override set here
    (`note_events`) and re-reads the providers whose objects were replaced from elsewhere
    (`reindex`: a restore, a reload, a replica's read of the store).
    """

    _heap: list[tuple[float, str]] = field(default_factory=list)
    _ends: dict[str, float] = field(default_factory=dict)
    """Target -> the end time last pushed for it (so re-reading the same override adds none)."""

    def __len__(self) -> int:
        return len(self._heap)

    def note(self, target: str, until: float | None) -> None:
        """`target` is held until `until` (None: not held; its old entry lapses by itself)."""
        if until is None or self._ends.get(target) == until:
            return
        self._ends[target] = until
        heapq.heappush(self._heap, (until, target))

    def note_events(self, events: Iterable[Event]) -> None:
        """Index the overrides that `events` set."""
        for event in events:
            if isinstance(event, OverrideSet):
                self.note(event.target, event.until)

    def reindex(
        self, mesh: Mesh, state: SystemState, providers: Iterable[str] | None = None
    ) -> None:
        """Re-read the overrides of `providers` (None: all) and their models from `state`."""
        for provider in mesh.providers if providers is None else providers:
            ps = state.providers.get(provider)
            if ps is not None:
                self.note(provider, ps.override_until)
            for model in mesh.provider_models.get(provider, ()):
                ms = state.models.get(model)
                if ms is not None:
                    self.note(model, ms.override_until)

    def due(self, now: float) -> list[str]:
        """Take out the targets whose indexed end is at or before `now`."""
        out: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            until, target = heapq.heappop(self._heap)
            if self._ends.get(target) == until:
                del self._ends[target]
            out.append(target)
        return out


def expire_due(
    mesh: Mesh,
    state: SystemState,
    index: OverrideIndex,
    now: float,
    *,
    policy: HealthPolicy = DEFAULT_POLICY,
) -> list[Event]:
    """`expire_overrides` over the providers the index says are due, in mesh order: the same
    events as over the whole mesh, as long as the index missed no override."""
    owners: set[str] = set()
    for target in index.due(now):
        owner = target if target in mesh.provider_models else mesh.model_provider.get(target)
        if owner is not None:
            owners.add(owner)
    if not owners:
        return []
    # Mesh order, as a fleet scan ends them; walking the names is needed only for several.
    ordered = list(owners) if len(owners) == 1 else [p for p in mesh.providers if p in owners]
    return expire_overrides(mesh, state, now, providers=ordered, policy=policy)


def _ended(obj: _Held, now: float) -> bool:
    return obj.override_until is not None and obj.override_until <= now


def _settle(fan: FanOut, model: str, ms: ModelState, ps: ProviderState, *, healthy: bool) -> None:
    if ms.is_active:
        if not healthy:  # frozen active while its provider went down
            fan.deactivate(model, provider_reason(ps))
        return
    reason = ms.deactivation_reason
    if reason != MAINTENANCE and reason not in PROVIDER_REASONS:
        return  # not the override's, nor the provider's (model_not_found, manual): keep
    if healthy:
        fan.activate(model)
    else:
        ms.deactivation_reason = provider_reason(ps)


def _view(name: str, kind: str, obj: _Held) -> Override:
    return Override(
        target=name,
        kind=kind,
        until=obj.override_until or 0.0,
        reason=obj.override_reason or "",
        set_at=obj.override_set_at or 0.0,
        source=obj.override_source or OPERATOR,
    )
