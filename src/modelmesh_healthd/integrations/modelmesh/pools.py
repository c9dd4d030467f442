"""Keep a ModelMesh's capability pools in step with the daemon's verdicts.

What the daemon holds in standby is put on STANDBY in every pool of the ModelMesh that lists it;
what the daemon restores is reactivated (`CapabilityPool.reactivate`). `PoolSync` remembers which
standbys it caused, and reactivates only those:

* a model ModelMesh put on standby itself (its `failure_threshold` of failed requests) is *adopted*
  when the daemon holds the same model in standby: the daemon's probes found the cause, so the
  daemon's recovery ends it. That is what brings a recovered provider's traffic back;
* a model in standby with fewer failures than the threshold (an operator's `rotate`, a manual
  standby) is never adopted, and so never reactivated;
* a model in standby while the daemon finds it healthy stays in standby: ModelMesh's reason, not
  ours.

The sync is level-triggered: each verdict is applied whole, so a lost notification is repaired
by the next read. Pools are changed in place from the attach thread or task; each change is one
attribute write or one `reactivate` call, which a router in another thread sees whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PoolChange", "PoolSync", "modelmesh_reason"]

_REASONS = {
    "provider_unavailable": "error_threshold",
    "auth_failure": "error_threshold",
    "model_not_found": "error_threshold",
    "quota_exhausted": "quota_exhausted",
    "manual": "manual",
}


def modelmesh_reason(daemon_reason: str | None) -> str:
    """The word of ModelMesh's `interfaces.rotation.DeactivationReason` for a daemon reason."""
    return _REASONS.get(daemon_reason or "", "error_threshold")


@dataclass(frozen=True, slots=True)
class PoolChange:
    """One change `PoolSync` made (or took over) in one pool.

    Attributes:
        pool: ModelMesh pool id.
        model: Model id.
        action: `deactivated`, `adopted` (ModelMesh had put it on standby, the daemon agrees) or
            `reactivated`.
        reason: The daemon's deactivation reason (None for `reactivated`).
    """

    pool: str
    model: str
    action: str
    reason: str | None = None


class PoolSync:
    """Applies the daemon's standby set to a ModelMesh's pools and undoes only its own changes.

    Args:
        mesh: The `modelmesh.core.mesh.ModelMesh` (anything with `pools` and `event_emitter`).
    """

    def __init__(self, mesh: Any) -> None:
        self._mesh = mesh
        self.ours: set[tuple[str, str]] = set()
        """(pool id, model id) of every standby this sync caused or adopted."""

    def apply(self, standby: Mapping[str, str | None]) -> list[PoolChange]:
        """Make the pools agree with the daemon.

        Args:
            standby: Model id -> daemon deactivation reason, for every model the daemon holds
                in standby. Every other model is one the daemon finds fit to serve.

        Returns:
            What changed.
        """
        from modelmesh.interfaces.rotation import ModelStatus

        changes: list[PoolChange] = []
        for pool_id, pool in self._mesh.pools.items():
            threshold = _threshold(pool)
            for model in pool.models:
                key = (pool_id, model.model_id)
                if model.model_id in standby:
                    reason = standby[model.model_id]
                    if model.status == ModelStatus.ACTIVE:
                        model.status = ModelStatus.STANDBY
                        self.ours.add(key)
                        changes.append(PoolChange(pool_id, model.model_id, "deactivated", reason))
                    elif key not in self.ours and model.failure_count >= threshold:
                        self.ours.add(key)
                        changes.append(PoolChange(pool_id, model.model_id, "adopted", reason))
                elif key in self.ours:
                    changes.extend(self._give_back(pool, key))
        self._announce(changes)
        return changes

    def release(self) -> list[PoolChange]:
        """Reactivate every standby this sync caused or adopted, and forget them.

        Used when the daemon's view goes stale and on close: ModelMesh then routes by its own
        rules again, and its own failure counting takes a still-failing model out once more.
        """
        pools = self._mesh.pools
        changes: list[PoolChange] = []
        for key in sorted(self.ours):
            pool = pools.get(key[0])
            if pool is None:
                self.ours.discard(key)
                continue
            changes.extend(self._give_back(pool, key))
        self.ours.clear()
        self._announce(changes)
        return changes

    def _give_back(self, pool: Any, key: tuple[str, str]) -> list[PoolChange]:
        from modelmesh.interfaces.rotation import ModelStatus

        self.ours.discard(key)
        model = next((m for m in pool.models if m.model_id == key[1]), None)
        if model is None or model.status != ModelStatus.STANDBY:
            return []  # gone from the pool, or someone reactivated it already
        pool.reactivate(key[1])
        return [PoolChange(key[0], key[1], "reactivated")]

    def _announce(self, changes: list[PoolChange]) -> None:
        """Tell ModelMesh's own subscribers, in its event vocabulary."""
        if not changes:
            return
        from modelmesh.core.event_emitter import EventType

        emitter = getattr(self._mesh, "event_emitter", None)
        if emitter is None:
            return
        for c in changes:
            if c.action == "reactivated":
                emitter.emit(
                    EventType.MODEL_REACTIVATED, pool_id=c.pool, model_id=c.model, source="healthd"
                )
            else:
                emitter.emit(
                    EventType.MODEL_DEACTIVATED,
                    pool_id=c.pool,
                    model_id=c.model,
                    reason=modelmesh_reason(c.reason),
                    source="healthd",
                )


def _threshold(pool: Any) -> int:
    try:
        return max(1, int(pool.config.get("failure_threshold", 3)))
    except (TypeError, ValueError):
        return 3
