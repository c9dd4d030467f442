"""The daemon's runtime as the modules that wire one concern into it see it.

Canary, overrides, history, replicas and the quorum each have a module of their own beside
`service` (`canary_hooks`, `overrides_hooks`, `history_hooks`, `coordination_hooks`,
`quorum_hooks`); they read and drive the daemon through this Protocol, never through `service`,
so `service` imports them and no import leads back. The `Daemon` satisfies it structurally
(mypy checks that at the end of `service`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from modelmesh_healthd.daemon.view import DaemonControls

if TYPE_CHECKING:
    import httpx

    from modelmesh_healthd.daemon.coordination import Coordinator
    from modelmesh_healthd.state import Event, HealthCore
    from modelmesh_healthd.storage import StateManager

__all__ = ["DaemonRuntime"]


class DaemonRuntime(DaemonControls, Protocol):
    """The view, plus the parts a concern's wiring drives: the core, the store, the client."""

    @property
    def store_url(self) -> str:
        """The state store's URL (replica options included)."""
        ...

    @property
    def core(self) -> HealthCore:
        """The pure core's state and memory: every health decision is made on it."""
        ...

    @property
    def manager(self) -> StateManager | None:
        """The state manager (None before startup opened the store)."""
        ...

    @property
    def client(self) -> httpx.AsyncClient | None:
        """The shared HTTP client (None before startup built it)."""
        ...

    @property
    def coordinator(self) -> Coordinator | None:
        """This replica's coordinator (None: one daemon writes the store alone)."""
        ...

    def owns(self, provider: str) -> bool:
        """Whether this daemon probes `provider` (always, unless it is one replica of several)."""
        ...

    def publish(self, events: list[Event]) -> None:
        """Log, persist and hand to the sinks the events of a transition made outside a probe."""
        ...
