"""Typed events: every change the health core makes is returned as one of these.

The I/O shell turns them into log lines (the event's `name` is the log event name), metrics and
persistence work. Names and fields are a stable interface for log-driven monitoring: see
docs/events.md, which a test keeps in agreement with this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "STATE_EVENTS",
    "Event",
    "LogEventSpec",
    "ModelAdded",
    "ModelDeactivated",
    "ModelDegraded",
    "ModelReactivated",
    "ModelRecovered",
    "ModelRemoved",
    "NetworkRestored",
    "NetworkSuspect",
    "OverrideCleared",
    "OverrideExpired",
    "OverrideSet",
    "PoolEmpty",
    "PoolRestored",
    "ProbeCompleted",
    "ProbeHeld",
    "ProviderAdded",
    "ProviderDegraded",
    "ProviderDown",
    "ProviderLoaded",
    "ProviderLoading",
    "ProviderReasonChanged",
    "ProviderRecovered",
    "ProviderRemoved",
    "ProviderThrottleEnded",
    "ProviderUp",
    "QuorumDecided",
    "QuorumPending",
]

DEBUG, INFO, WARNING, ERROR = "debug", "info", "warning", "error"


@dataclass(frozen=True, slots=True)
class LogEventSpec:
    """The documented shape of one log event name (for log events that are not state events).

    Every package that logs declares its events as a tuple of these (`LOG_EVENTS`), so that
    docs/events.md can be checked against the code.

    Attributes:
        name: The stable event name, e.g. `snapshot.saved`.
        level: The level it is logged at (`debug`, `info`, `warning`, `error`).
        fields: The keys it always carries besides `event`, `level` and `timestamp`.
        summary: One sentence: when it is logged.
    """

    name: str
    level: str
    fields: tuple[str, ...]
    summary: str


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all state events."""

    name: ClassVar[str]
    """Stable event name, used as the log event."""
    level: ClassVar[str] = INFO
    """Log level the shell uses for this event."""

    @property
    def log_level(self) -> str:
        """The level of this occurrence (some events are quieter when all is well)."""
        return self.level

    def fields(self) -> dict[str, Any]:
        """The event's fields as log keys (`from_`/`to` become `from`/`to`)."""
        out: dict[str, Any] = {}
        key: str
        for key in self.__slots__:
            out["from" if key == "from_" else key] = getattr(self, key)
        return out


@dataclass(frozen=True, slots=True)
class ProbeCompleted(Event):
    """One probe's result was recorded. Debug when the provider is fine (or loading within its
    grace: `provider.loading` says so once), info otherwise."""

    name: ClassVar[str] = "probe.completed"
    level: ClassVar[str] = DEBUG
    provider: str
    outcome: str
    latency_ms: float | None
    score: float
    healthy: bool
    detail: str | None = None
    retry_after: float | None = None

    @property
    def log_level(self) -> str:
        # A loading server is probed every fast_interval; its start and end are events of their
        # own, so repeating each of its probes at info would only bury them.
        return DEBUG if self.healthy and self.outcome in ("ok", "loading") else INFO


@dataclass(frozen=True, slots=True)
class ProviderLoading(Event):
    """A server started answering "loading model"; its models stay active for the loading grace."""

    name: ClassVar[str] = "provider.loading"
    level: ClassVar[str] = INFO
    provider: str
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderLoaded(Event):
    """A server that was loading answered something else (`outcome`: ok once its model is in)."""

    name: ClassVar[str] = "provider.loaded"
    level: ClassVar[str] = INFO
    provider: str
    outcome: str
    loading_for_s: float


@dataclass(frozen=True, slots=True)
class ProviderThrottleEnded(Event):
    """A rate-limited provider answered something other than a rate limit (`outcome`)."""

    name: ClassVar[str] = "provider.throttle_ended"
    level: ClassVar[str] = INFO
    provider: str
    outcome: str


@dataclass(frozen=True, slots=True)
class ProviderDown(Event):
    """A provider turned unhealthy; its models go to standby in every pool."""

    name: ClassVar[str] = "provider.down"
    level: ClassVar[str] = WARNING
    provider: str
    reason: str
    outcome: str
    score: float
    detail: str | None = None
    from_: str = "up"
    to: str = "down"


@dataclass(frozen=True, slots=True)
class ProviderUp(Event):
    """A down provider recovered; the models its outage deactivated come back."""

    name: ClassVar[str] = "provider.up"
    level: ClassVar[str] = INFO
    provider: str
    score: float
    down_for_s: float | None
    from_: str = "down"
    to: str = "up"


@dataclass(frozen=True, slots=True)
class ProviderReasonChanged(Event):
    """A down provider is still down, but for another reason (an outage became a bad key)."""

    name: ClassVar[str] = "provider.reason_changed"
    level: ClassVar[str] = WARNING
    provider: str
    outcome: str
    from_: str
    to: str


@dataclass(frozen=True, slots=True)
class ProviderDegraded(Event):
    """A provider answers, but slowly: over `degraded_after` or k times its own baseline.

    Its models stay active; routers may prefer others (state `degraded`, metric)."""

    name: ClassVar[str] = "provider.degraded"
    level: ClassVar[str] = WARNING
    provider: str
    latency_ms: float
    baseline_ms: float | None
    why: str


@dataclass(frozen=True, slots=True)
class ProviderRecovered(Event):
    """A degraded provider answers at its usual speed again."""

    name: ClassVar[str] = "provider.recovered"
    level: ClassVar[str] = INFO
    provider: str
    latency_ms: float
    degraded_for_s: float | None


@dataclass(frozen=True, slots=True)
class ModelDegraded(Event):
    """A model's canary answers, but slowly: its time to first token is over `degraded_after`
    or k times its own baseline. It stays active."""

    name: ClassVar[str] = "model.degraded"
    level: ClassVar[str] = WARNING
    model: str
    provider: str
    latency_ms: float
    baseline_ms: float | None
    why: str


@dataclass(frozen=True, slots=True)
class ModelRecovered(Event):
    """A degraded model's canary answers at its usual speed again."""

    name: ClassVar[str] = "model.recovered"
    level: ClassVar[str] = INFO
    model: str
    provider: str
    latency_ms: float
    degraded_for_s: float | None


@dataclass(frozen=True, slots=True)
class ModelDeactivated(Event):
    """A model went from active to standby in one pool (`pool` is None for a model in none)."""

    name: ClassVar[str] = "model.deactivated"
    level: ClassVar[str] = WARNING
    model: str
    provider: str
    pool: str | None
    reason: str
    from_: str = "active"
    to: str = "standby"


@dataclass(frozen=True, slots=True)
class ModelReactivated(Event):
    """A model went from standby back to active in one pool (`pool` None: in no pool)."""

    name: ClassVar[str] = "model.reactivated"
    level: ClassVar[str] = INFO
    model: str
    provider: str
    pool: str | None
    reason: str
    """The deactivation reason that no longer holds."""
    from_: str = "standby"
    to: str = "active"


@dataclass(frozen=True, slots=True)
class PoolEmpty(Event):
    """A pool has no active model left: requests for it cannot be routed."""

    name: ClassVar[str] = "pool.empty"
    level: ClassVar[str] = ERROR
    pool: str
    standby: int


@dataclass(frozen=True, slots=True)
class PoolRestored(Event):
    """An empty pool has an active model again."""

    name: ClassVar[str] = "pool.restored"
    level: ClassVar[str] = INFO
    pool: str
    active: int


@dataclass(frozen=True, slots=True)
class ProviderAdded(Event):
    """The configuration gained a provider (at start against the restored state, or on reload)."""

    name: ClassVar[str] = "provider.added"
    level: ClassVar[str] = INFO
    provider: str
    models: int


@dataclass(frozen=True, slots=True)
class ProviderRemoved(Event):
    """The configuration no longer has a provider; its state is dropped."""

    name: ClassVar[str] = "provider.removed"
    level: ClassVar[str] = INFO
    provider: str


@dataclass(frozen=True, slots=True)
class ModelAdded(Event):
    """The configuration gained a model."""

    name: ClassVar[str] = "model.added"
    level: ClassVar[str] = INFO
    model: str
    provider: str


@dataclass(frozen=True, slots=True)
class ModelRemoved(Event):
    """The configuration no longer has a model; its state is dropped."""

    name: ClassVar[str] = "model.removed"
    level: ClassVar[str] = INFO
    model: str


@dataclass(frozen=True, slots=True)
class ProbeHeld(Event):
    """A network failure that would take a provider down was held back by the guard."""

    name: ClassVar[str] = "probe.held"
    level: ClassVar[str] = INFO
    provider: str
    outcome: str
    detail: str | None


@dataclass(frozen=True, slots=True)
class NetworkSuspect(Event):
    """Network failures without evidence from any other provider: likely our own network; no
    provider is taken down until another provider answers."""

    name: ClassVar[str] = "daemon.network_suspect"
    level: ClassVar[str] = WARNING
    provider: str
    outcome: str
    held: int


@dataclass(frozen=True, slots=True)
class NetworkRestored(Event):
    """A provider answered again after a network suspicion episode."""

    name: ClassVar[str] = "daemon.network_restored"
    level: ClassVar[str] = INFO
    provider: str


@dataclass(frozen=True, slots=True)
class QuorumPending(Event):
    """This site sees a provider down, but fewer sites than the quorum agree yet: its shared
    state stays as it is (once per episode; `provider.down` follows if enough sites agree)."""

    name: ClassVar[str] = "provider.quorum_pending"
    level: ClassVar[str] = WARNING
    provider: str
    outcome: str
    agreeing: tuple[str, ...]
    needed: int
    live: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QuorumDecided(Event):
    """The sites' votes turned a provider's shared state (`provider.down` or `provider.up`
    follows): `down` names the sites with a fresh down vote, `to` the new state."""

    name: ClassVar[str] = "provider.quorum_decided"
    level: ClassVar[str] = WARNING
    provider: str
    to: str
    down: tuple[str, ...]
    needed: int
    live: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OverrideSet(Event):
    """An operator or a scheduled window put a provider or a model on hold (a drain)."""

    name: ClassVar[str] = "override.set"
    level: ClassVar[str] = WARNING
    target: str
    kind: str
    provider: str
    until: float
    reason: str
    source: str


@dataclass(frozen=True, slots=True)
class OverrideExpired(Event):
    """An override reached its end time; what it put on standby is restored."""

    name: ClassVar[str] = "override.expired"
    level: ClassVar[str] = INFO
    target: str
    kind: str
    provider: str


@dataclass(frozen=True, slots=True)
class OverrideCleared(Event):
    """An operator ended an override before its time (`undrain`); what it held is restored."""

    name: ClassVar[str] = "override.cleared"
    level: ClassVar[str] = INFO
    target: str
    kind: str
    provider: str


STATE_EVENTS: tuple[type[Event], ...] = (
    ProbeCompleted,
    ProviderLoading,
    ProviderLoaded,
    ProviderThrottleEnded,
    ProviderDown,
    ProviderUp,
    ProviderReasonChanged,
    ProviderDegraded,
    ProviderRecovered,
    ModelDegraded,
    ModelRecovered,
    ModelDeactivated,
    ModelReactivated,
    PoolEmpty,
    PoolRestored,
    ProviderAdded,
    ProviderRemoved,
    ModelAdded,
    ModelRemoved,
    ProbeHeld,
    NetworkSuspect,
    NetworkRestored,
    QuorumPending,
    QuorumDecided,
    OverrideSet,
    OverrideExpired,
    OverrideCleared,
)
"""Every event class the core emits (the docs test walks this)."""
