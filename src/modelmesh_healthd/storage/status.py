"""Plain views of persistence and of a state, for `/readyz`, `status` and routers.

`status_table` turns a SystemState into rows a CLI can print as a table or JSON; it is pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from modelmesh_healthd.state.policy import DEFAULT_POLICY, HealthPolicy
from modelmesh_healthd.state.system import SystemState
from modelmesh_healthd.storage.base import LockOwner

__all__ = ["PoolRow", "ProviderRow", "StatusTable", "SyncStatus", "status_table"]


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """Where persistence stands (ModelMesh's `getSyncStatus`).

    Attributes:
        policy: The sync policy's name.
        store: The store's URL, password redacted.
        last_sync: Unix timestamp of the last successful write (None: none yet).
        next_sync: Unix timestamp of the next scheduled write (None: nothing pending or due).
        pending_changes: Rows marked for the next write.
        full_save_pending: The next write rewrites everything.
        locked: This manager holds the store's writer lock.
        lock_owner: The lock's owner record (this process) while locked.
        epoch: Epoch of the last write.
        ready: Store reachable and last write successful.
        last_error: Why the last write failed (None after a success).
        consecutive_failures: Failed writes since the last success.
    """

    policy: str
    store: str
    last_sync: float | None
    next_sync: float | None
    pending_changes: int
    full_save_pending: bool
    locked: bool
    lock_owner: LockOwner | None
    epoch: int
    ready: bool
    last_error: str | None
    consecutive_failures: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the lock token is left out: it is a capability, not information)."""
        out = asdict(self)
        if self.lock_owner is not None:
            owner = self.lock_owner.to_dict()
            owner.pop("token", None)
            out["lock_owner"] = owner
        return out


@dataclass(frozen=True, slots=True)
class ProviderRow:
    """One provider line of the status table.

    Attributes:
        provider: Provider id.
        health: `up` or `down`.
        score: Availability score (0-1).
        last_probe: Unix timestamp of the last probe (None: never probed).
        last_outcome: Outcome class of the last probe.
        reason: Why it is down (None while up), else the last probe's detail when not ok.
        active_models: How many of its models are active.
        owner: The replica holding its lease (replicas only; None otherwise).
    """

    provider: str
    health: str
    score: float
    last_probe: float | None
    last_outcome: str | None
    reason: str | None
    active_models: int
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class PoolRow:
    """One pool line of the status table.

    Attributes:
        pool: Pool id.
        active: Active model ids, sorted.
        standby: Standby model ids with their deactivation reasons, sorted by id.
    """

    pool: str
    active: tuple[str, ...]
    standby: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True, slots=True)
class StatusTable:
    """What `modelmesh-healthd status` prints.

    Attributes:
        providers: One row per provider, sorted by id.
        pools: One row per pool, sorted by id.
        timestamp: The state's last change.
    """

    providers: tuple[ProviderRow, ...]
    pools: tuple[PoolRow, ...]
    timestamp: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for `status --json`)."""
        return asdict(self)


def status_table(
    state: SystemState,
    policy: HealthPolicy = DEFAULT_POLICY,
    owners: Mapping[str, str] | None = None,
) -> StatusTable:
    """Providers (health, score, last probe, reason) and pools (active/standby models).

    Args:
        state: A state, e.g. from `read_state(url)`.
        policy: Decides what counts as healthy (the daemon's configured policy).
        owners: Provider -> the replica probing it (`read_owners(url)`), when replicated.

    Returns:
        The table, sorted by id.
    """
    providers = []
    for name in sorted(state.providers):
        ps = state.providers[name]
        healthy = ps.is_healthy(policy)
        reason = ps.down_reason if not healthy else None
        if not healthy and reason is None:
            reason = "auth_failure" if not ps.auth_valid else "provider_unavailable"
        if ps.last_outcome not in (None, "ok") and ps.last_detail:
            reason = f"{reason}: {ps.last_detail}" if reason else ps.last_detail
        providers.append(
            ProviderRow(
                provider=name,
                health="up" if healthy else "down",
                score=round(ps.availability_score, 4),
                last_probe=ps.last_probe,
                last_outcome=ps.last_outcome,
                reason=reason,
                active_models=ps.active_model_count,
                owner=None if owners is None else owners.get(name),
            )
        )
    pools = []
    for name in sorted(state.pools):
        pool = state.pools[name]
        standby = tuple(
            (m, state.models[m].deactivation_reason if m in state.models else None)
            for m in sorted(pool.standby_models)
        )
        pools.append(PoolRow(name, tuple(sorted(pool.active_models)), standby))
    return StatusTable(tuple(providers), tuple(pools), state.timestamp)
