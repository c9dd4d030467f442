"""Prometheus metrics of the daemon, in a registry of its own (never the global one).

Two sources. Counters and histograms follow the state events (`Metrics.observe` is one of the
daemon's event sinks) and the scheduler's start callback. Everything that is a *state* (is a
provider up, how many models a pool has active, is the store ready) is read from the daemon when
scraped, so it is never stale and a provider or pool removed by a reload is gone from the very
next scrape.

Label values come only from configured provider and pool names and from fixed vocabularies (the
probe outcome classes, `up`/`down`, `ok`/`failed`): never from URLs, answers or keys, so the
number of series is bounded by the configuration.
"""

from __future__ import annotations

import platform
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

from modelmesh_healthd import __version__
from modelmesh_healthd.daemon.liveness import Liveness
from modelmesh_healthd.state import (
    Event,
    Outcome,
    ProbeCompleted,
    ProviderDown,
    ProviderRemoved,
    ProviderUp,
)

if TYPE_CHECKING:
    from modelmesh_healthd.daemon.service import Daemon

__all__ = ["CONTENT_TYPE", "METRIC_NAMES", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The Content-Type of `Metrics.render()`: the text format 0.0.4 it writes (newer
prometheus-client versions name 1.0.0 as the latest; our legacy-safe names render the same)."""

NS = "modelmesh_healthd"

PROBE_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Probe latency: a models-list answer takes tens of ms on a LAN, up to seconds over the world."""
LATENESS_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)
"""Scheduler lateness: milliseconds when all is well, seconds when concurrency is saturated."""

_OUTCOMES = frozenset(str(o) for o in Outcome)
_M = TypeVar("_M", bound=MetricWrapperBase)


class Metrics:
    """The daemon's metrics.

    Args:
        daemon: The daemon whose state is read at scrape time.
        liveness: The current progress verdict (None before the scheduler runs).
    """

    def __init__(self, daemon: Daemon, liveness: Callable[[], Liveness | None]) -> None:
        # `_created` series double every counter and histogram for no use to an alert; this
        # process is ours, so turning them off process-wide is harmless.
        disable_created_metrics()  # type: ignore[no-untyped-call] # the library leaves it bare
        self.registry = CollectorRegistry()
        reg = self.registry
        self.probes = Counter(
            f"{NS}_probes",
            "Probes whose result was recorded, by provider and outcome class.",
            ["provider", "outcome"],
            registry=reg,
        )
        self.probe_duration = Histogram(
            f"{NS}_probe_duration_seconds",
            "Latency of probes that got an answer, by provider.",
            ["provider"],
            buckets=PROBE_BUCKETS,
            registry=reg,
        )
        self.transitions = Counter(
            f"{NS}_provider_transitions",
            "Provider health transitions, by provider and the side it went to (up, down).",
            ["provider", "to"],
            registry=reg,
        )
        self.lateness = Histogram(
            f"{NS}_scheduler_lateness_seconds",
            "How late each probe started after its due time.",
            buckets=LATENESS_BUCKETS,
            registry=reg,
        )
        build = Gauge(
            f"{NS}_build_info",
            "Always 1; the labels say which version runs on which Python.",
            ["version", "python"],
            registry=reg,
        )
        build.labels(__version__, platform.python_version()).set(1)
        reg.register(_StateCollector(daemon, liveness))
        self._series: defaultdict[str, set[tuple[MetricWrapperBase, tuple[str, ...]]]]
        self._series = defaultdict(set)

    def observe(self, events: list[Event]) -> None:
        """Count one batch of state events (a daemon event sink).

        Args:
            events: What one transition returned.
        """
        for event in events:
            if isinstance(event, ProbeCompleted):
                outcome = event.outcome if event.outcome in _OUTCOMES else "unknown"
                self._child(self.probes, event.provider, outcome).inc()
                if event.latency_ms is not None:
                    child = self._child(self.probe_duration, event.provider)
                    child.observe(event.latency_ms / 1000.0)
            elif isinstance(event, ProviderDown):
                self._child(self.transitions, event.provider, "down").inc()
            elif isinstance(event, ProviderUp):
                self._child(self.transitions, event.provider, "up").inc()
            elif isinstance(event, ProviderRemoved):
                for metric, labels in self._series.pop(event.provider, set()):
                    metric.remove(*labels)

    def on_probe_start(self, name: str, due: float, started: float) -> None:
        """The scheduler's start callback: record how late the probe started.

        Args:
            name: The provider.
            due: When its probe was due (scheduler clock).
            started: When it started (same clock).
        """
        self.lateness.observe(max(0.0, started - due))

    def render(self) -> bytes:
        """The metrics in Prometheus text format (see `CONTENT_TYPE`)."""
        return generate_latest(self.registry)

    def _child(self, metric: _M, provider: str, *rest: str) -> _M:
        labels = (provider, *rest)
        self._series[provider].add((metric, labels))
        return metric.labels(*labels)


class _StateCollector(Collector):
    """Gauges (and the store's save counter) read from the daemon at scrape time."""

    def __init__(self, daemon: Daemon, liveness: Callable[[], Liveness | None]) -> None:
        self._daemon = daemon
        self._liveness = liveness

    def describe(self) -> Iterator[Metric]:
        # Declared without samples, so registering does not read a daemon not started yet.
        return iter([*_gauges().values(), *_counters().values()])

    def collect(self) -> Iterator[Metric]:
        d = self._daemon
        g, c = _gauges(), _counters()
        for name in d.providers:
            provider = d.state.providers.get(name)
            if provider is None:
                continue
            g["provider_up"].add_metric([name], 1.0 if provider.is_healthy(d.policy) else 0.0)
            g["provider_availability_score"].add_metric([name], provider.availability_score)
        for name, pool in d.state.pools.items():
            g["pool_active_models"].add_metric([name], len(pool.active_models))
            g["pool_standby_models"].add_metric([name], len(pool.standby_models))
        manager = d.manager
        if manager is not None:
            status = manager.get_sync_status()
            c["state_saves"].add_metric(["ok"], manager.save_counts.ok)
            c["state_saves"].add_metric(["failed"], manager.save_counts.failed)
            g["state_pending_changes"].add_metric([], status.pending_changes)
            g["store_ready"].add_metric([], 1.0 if status.ready else 0.0)
            if status.last_sync is not None:
                g["state_last_save_timestamp_seconds"].add_metric([], status.last_sync)
        ready = d.ready and manager is not None and manager.ready
        g["ready"].add_metric([], 1.0 if ready else 0.0)
        if d.scheduler is not None:
            g["probes_in_flight"].add_metric([], d.scheduler.in_flight)
            g["scheduler_overdue_seconds"].add_metric([], d.scheduler.overdue())
        verdict = self._liveness()
        if verdict is not None:
            g["scheduler_live"].add_metric([], 1.0 if verdict.live else 0.0)
        return iter([*g.values(), *c.values()])


_GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "provider_up": (
        "1 while the provider is healthy (its models active), 0 while it is down.",
        ("provider",),
    ),
    "provider_availability_score": (
        "The provider's rolling availability score (0-1).",
        ("provider",),
    ),
    "pool_active_models": ("Active models in the pool.", ("pool",)),
    "pool_standby_models": ("Models in standby in the pool.", ("pool",)),
    "state_pending_changes": ("State changes not yet written to the store.", ()),
    "state_last_save_timestamp_seconds": (
        "Unix time of the last successful write of the state.",
        (),
    ),
    "store_ready": ("1 while the store is reachable and the last write succeeded.", ()),
    "ready": ("1 while the daemon is ready (state restored, store ready): /readyz.", ()),
    "probes_in_flight": ("Probes running now.", ()),
    "scheduler_overdue_seconds": (
        "How late the most overdue waiting provider is (0 when none is due).",
        (),
    ),
    "scheduler_live": ("1 while the scheduler makes progress (/livez), else 0.", ()),
}
"""Gauges read at scrape time: short name -> (help, label names)."""

_COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "state_saves": (
        "Write attempts of the state to the store, by result (ok, failed).",
        ("result",),
    ),
}
"""Counters read at scrape time (exposed with a `_total` suffix)."""


def _gauges() -> dict[str, GaugeMetricFamily]:
    return {
        key: GaugeMetricFamily(f"{NS}_{key}", doc, labels=list(labels))
        for key, (doc, labels) in _GAUGES.items()
    }


def _counters() -> dict[str, CounterMetricFamily]:
    return {
        key: CounterMetricFamily(f"{NS}_{key}", doc, labels=list(labels))
        for key, (doc, labels) in _COUNTERS.items()
    }


METRIC_NAMES: tuple[str, ...] = (
    f"{NS}_build_info",
    f"{NS}_probes_total",
    f"{NS}_probe_duration_seconds",
    f"{NS}_provider_transitions_total",
    f"{NS}_scheduler_lateness_seconds",
    *(f"{NS}_{key}" for key in _GAUGES),
    *(f"{NS}_{key}_total" for key in _COUNTERS),
)
"""Every metric the daemon exposes (docs/operations.md documents each; a test checks)."""
