"""What observers may read of the daemon: a read-only view, never the `Daemon` object.

Metrics, the admin endpoint and supervision report on the daemon; none of them changes it. They
are given a `DaemonView` (the `Daemon` is one, structurally), so they import this module, not
`service`, and `service` -> `supervision` -> `admin`/`metrics` never leads back to `service`.
Every member is a property or a query: a type checker rejects an observer that assigns to one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Protocol

from modelmesh_healthd.config import Config
from modelmesh_healthd.daemon.history import HistoryRecorder
from modelmesh_healthd.probes.canary import DaySpend
from modelmesh_healthd.state import HealthPolicy, Mesh, SystemState
from modelmesh_healthd.state.overrides import Override
from modelmesh_healthd.storage import SyncStatus

__all__ = ["DaemonControls", "DaemonView", "SchedulerStatsView", "SchedulerView", "StoreView"]


class SchedulerStatsView(Protocol):
    """The scheduler's counters an observer reads."""

    @property
    def last_completed_at(self) -> float | None:
        """When a job last finished, on the scheduler's clock."""
        ...


class SchedulerView(Protocol):
    """What an observer reads of the scheduler."""

    @property
    def stats(self) -> SchedulerStatsView:
        """Its counters."""
        ...

    @property
    def in_flight(self) -> int:
        """Probes running now."""
        ...

    def now(self) -> float:
        """The scheduler's clock."""
        ...

    def overdue(self) -> float:
        """How late the most overdue idle provider is, in seconds."""
        ...


class SaveCountsView(Protocol):
    """Write attempts since start."""

    @property
    def ok(self) -> int: ...

    @property
    def failed(self) -> int: ...


class StoreView(Protocol):
    """What an observer reads of the state manager."""

    @property
    def ready(self) -> bool:
        """Store reachable and last write successful."""
        ...

    @property
    def save_counts(self) -> SaveCountsView:
        """Write attempts since start, by result."""
        ...

    def get_sync_status(self) -> SyncStatus:
        """Where persistence stands."""
        ...


class DaemonView(Protocol):
    """The daemon as its observers see it (read-only)."""

    @property
    def config(self) -> Config:
        """The configuration it runs on (changes on reload)."""
        ...

    @property
    def writer_id(self) -> str:
        """host:pid:instance, as written into the store's envelope."""
        ...

    @property
    def state(self) -> SystemState:
        """The health of every provider, model and pool."""
        ...

    @property
    def mesh(self) -> Mesh:
        """The topology the state is reconciled to."""
        ...

    @property
    def policy(self) -> HealthPolicy:
        """Thresholds and outcome rules."""
        ...

    @property
    def probed(self) -> Collection[str]:
        """The providers being probed (the enabled ones)."""
        ...

    @property
    def ready(self) -> bool:
        """State restored and the scheduler running."""
        ...

    @property
    def manager(self) -> StoreView | None:
        """The state manager (None before startup opened the store)."""
        ...

    @property
    def scheduler(self) -> SchedulerView | None:
        """The scheduler (None before startup started it)."""
        ...

    @property
    def history(self) -> HistoryRecorder:
        """Availability history of every provider and model."""
        ...

    @property
    def canary_ledgers(self) -> Mapping[str, DaySpend]:
        """Each canary provider's spend today (empty while no canary is on)."""
        ...

    def wall_clock(self) -> float:
        """Unix time, as the daemon reads it."""
        ...

    def counts(self) -> dict[str, Any]:
        """Providers up/down/pending/held and pools with no active model."""
        ...

    async def state_document(self) -> dict[str, Any]:
        """The whole state, JSON-ready (a replica reads the shared store; see `coordination`).

        Raises:
            StoreError: A replica's store cannot be read.
        """
        ...


class DaemonControls(DaemonView, Protocol):
    """A view plus the one thing an outside input may ask of the daemon: a probe, now.

    For inputs such as routers' reports: they never change health themselves, they ask for a
    probe, and the probe's result goes through the core like any other.
    """

    def probe_now(self, provider: str) -> bool:
        """Probe `provider` as soon as possible (after its running probe, if one runs).

        Returns:
            False if it is not probed (unknown or disabled), or the scheduler is not running.
        """
        ...

    def overrides(self) -> list[Override]:
        """Every override in force now (drains and maintenance windows)."""
        ...

    def set_override(self, target: str, seconds: float, reason: str) -> list[Override]:
        """Hold a provider or a model for `seconds` (a drain), and persist it.

        Raises:
            OverrideError: Unknown target or a duration that is not positive.
        """
        ...

    def clear_override(self, target: str) -> bool:
        """End the override on `target` now (undrain). False if it had none.

        Raises:
            OverrideError: Unknown target.
        """
        ...
