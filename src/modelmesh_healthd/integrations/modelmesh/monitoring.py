"""ModelMesh's `HealthMonitoring` interface, answered from the daemon's store.

The daemon is the one that probes; a router asking `probe()` gets the daemon's latest probe of that
provider instead of sending a second probe of its own, and `get_health_report()` gives the
daemon's verdicts. Both read one consistent cut of the store with the read API.
"""

from __future__ import annotations

from datetime import UTC, datetime

from modelmesh.interfaces.discovery import HealthMonitoring, HealthReport, ProbeResult

from modelmesh_healthd.state.provider import ProviderState
from modelmesh_healthd.state.system import SystemState
from modelmesh_healthd.storage.read_only import read_state
from modelmesh_healthd.storage.urls import open_store

__all__ = ["StoreHealthMonitoring"]

_HEALTHY_OUTCOMES = frozenset({"ok", "degraded", "model_not_found"})


class StoreHealthMonitoring(HealthMonitoring):
    """`modelmesh.interfaces.discovery.HealthMonitoring` backed by the daemon's store.

    Args:
        store: The daemon's store URL (`sqlite:///...`, `redis://...`, `postgresql://...`).

    Raises:
        StoreURLError: Bad URL (said at once, not at the first read).
    """

    def __init__(self, store: str) -> None:
        open_store(store)  # validates the URL and the driver now
        self._url = store

    async def _state(self) -> SystemState:
        state = await read_state(self._url)
        return SystemState() if state is None else state

    async def probe(self, provider_id: str) -> ProbeResult:
        """The daemon's latest probe of `provider_id`.

        Raises:
            KeyError: The daemon does not know this provider.
            StoreUnavailableError: The store cannot be reached.
        """
        ps = (await self._state()).providers.get(provider_id)
        if ps is None:
            raise KeyError(f"provider {provider_id!r} is not in the daemon's state")
        ok = ps.last_outcome in _HEALTHY_OUTCOMES
        return ProbeResult(
            provider_id=provider_id,
            success=ok,
            latency_ms=_ms(ps.last_latency),
            status_code=None,
            error=None if ok or ps.last_outcome is None else _error(ps),
        )

    async def get_health_report(self, provider_id: str | None = None) -> list[HealthReport]:
        """The daemon's verdict on one provider, or on all of them (sorted by id).

        Raises:
            StoreUnavailableError: The store cannot be reached.
        """
        providers = (await self._state()).providers
        names = sorted(providers) if provider_id is None else [provider_id]
        return [_report(name, providers[name]) for name in names if name in providers]


def _report(name: str, ps: ProviderState) -> HealthReport:
    healthy = ps.available and ps.auth_valid
    report = HealthReport(
        provider_id=name,
        available=healthy,
        latency_ms=_ms(ps.last_latency),
        status_code=None,
        error=None if healthy else _error(ps),
        availability_score=ps.availability_score,
    )
    if ps.last_probe is not None:
        report.timestamp = datetime.fromtimestamp(ps.last_probe, UTC)
    return report


def _error(ps: ProviderState) -> str:
    what = ps.down_reason or ps.last_outcome or "unknown"
    return f"{what}: {ps.last_detail}" if ps.last_detail else what


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)
