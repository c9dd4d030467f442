"""Prometheus metrics of the daemon, in a registry of its own (never the global one).

Two sources. Counters and histograms follow the state events (`Metrics.observe` is one of the
daemon's event sinks) and the scheduler's start callback. Everything that is a *state* (is a
provider up, how many models a pool has active, is the store ready) is read from the daemon when
scraped, so it is never stale and a provider or pool removed by a reload is gone from the very
next scrape.

Label values come only from configured provider and pool names and from fixed vocabularies (the
probe outcome classes, `up`/`down`, `ok`/`failed`): never from URLs, answers or keys, so the
number of series is bounded by the configuration. `CATALOGUE` lists every metric; the operations
doc's table is checked against it.
"""

from __future__ import annotations

import bisect
import itertools
import platform
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from modelmesh_healthd import __version__
from modelmesh_healthd.daemon.history import provider_subject
from modelmesh_healthd.daemon.liveness import Liveness
from modelmesh_healthd.daemon.view import DaemonView
from modelmesh_healthd.state import (
    Event,
    Outcome,
    ProbeCompleted,
    ProviderDown,
    ProviderRemoved,
    ProviderUp,
)

__all__ = ["CATALOGUE", "CONTENT_TYPE", "MetricSpec", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The Content-Type of `Metrics.render()`: the text format 0.0.4 it writes (newer
prometheus-client versions name 1.0.0 as the latest; our legacy-safe names render the same)."""

NS = "modelmesh_healthd"

SCRAPE_CACHE_S = 30.0
"""Availability ratios are recomputed at most this often per provider: a 30-day window does not
move in less, and a large fleet's scrape stays cheap."""

PROBE_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Probe latency: a models-list answer takes tens of ms on a LAN, up to seconds over the world."""
LATENESS_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)
"""Scheduler lateness: milliseconds when all is well, seconds when concurrency is saturated."""


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric as exposed.

    Attributes:
        name: The exposed name (a counter's with its `_total`).
        kind: `counter`, `gauge` or `histogram`.
        labels: Its label names.
        help: The HELP text.
    """

    name: str
    kind: str
    labels: tuple[str, ...]
    help: str


def _spec(name: str, kind: str, labels: tuple[str, ...], text: str) -> MetricSpec:
    return MetricSpec(f"{NS}_{name}", kind, labels, text)


PROBES = _spec(
    "probes_total",
    "counter",
    ("provider", "outcome"),
    "Probes whose result was recorded, by provider and outcome class.",
)
PROBE_DURATION = _spec(
    "probe_duration_seconds",
    "histogram",
    ("provider",),
    "Latency of probes that got an answer, by provider.",
)
TRANSITIONS = _spec(
    "provider_transitions_total",
    "counter",
    ("provider", "to"),
    "Provider health transitions, by provider and the side it went to (up, down).",
)
LATENESS = _spec(
    "scheduler_lateness_seconds", "histogram", (), "How late each probe started after its due time."
)
BUILD_INFO = _spec(
    "build_info",
    "gauge",
    ("version", "python"),
    "Always 1; the labels say which version runs on which Python.",
)
_SCRAPED = {
    spec.name.removeprefix(f"{NS}_"): spec
    for spec in (
        _spec(
            "provider_up",
            "gauge",
            ("provider",),
            "1 while the provider is healthy (its models active), 0 while it is down.",
        ),
        _spec(
            "provider_degraded",
            "gauge",
            ("provider",),
            "1 while the provider answers but slowly (degraded: its models stay active), else 0.",
        ),
        _spec(
            "provider_availability_score",
            "gauge",
            ("provider",),
            "The provider's rolling availability score (0-1).",
        ),
        _spec(
            "availability_ratio",
            "gauge",
            ("provider", "window"),
            "Time up (degraded included) over time up or down in the window (1h, 24h, 7d, 30d); "
            "maintenance and unknown time excluded. Absent while there is none of either.",
        ),
        _spec(
            "canary_spent_usd",
            "gauge",
            ("provider",),
            "USD the provider's canary spent today (UTC), by the configured prices.",
        ),
        _spec(
            "canary_budget_exhausted",
            "gauge",
            ("provider",),
            "1 once the provider's canary budget refused a canary today (the canary stopped).",
        ),
        _spec("pool_active_models", "gauge", ("pool",), "Active models in the pool."),
        _spec("pool_standby_models", "gauge", ("pool",), "Models in standby in the pool."),
        _spec(
            "state_saves_total",
            "counter",
            ("result",),
            "Write attempts of the state to the store, by result (ok, failed).",
        ),
        _spec("state_pending_changes", "gauge", (), "State changes not yet written to the store."),
        _spec(
            "state_last_save_timestamp_seconds",
            "gauge",
            (),
            "Unix time of the last successful write of the state.",
        ),
        _spec(
            "store_ready",
            "gauge",
            (),
            "1 while the store is reachable and the last write succeeded.",
        ),
        _spec(
            "ready",
            "gauge",
            (),
            "1 while the daemon is ready (state restored, store ready): /readyz.",
        ),
        _spec("probes_in_flight", "gauge", (), "Probes running now."),
        _spec(
            "scheduler_overdue_seconds",
            "gauge",
            (),
            "How late the most overdue waiting provider is (0 when none is due).",
        ),
        _spec(
            "scheduler_live",
            "gauge",
            (),
            "1 while the scheduler makes progress (/livez), else 0.",
        ),
    )
}
"""Metrics read from the daemon at scrape time, by short name."""

CATALOGUE: tuple[MetricSpec, ...] = (
    BUILD_INFO,
    PROBES,
    PROBE_DURATION,
    TRANSITIONS,
    LATENESS,
    *_SCRAPED.values(),
)
"""Every metric the daemon exposes."""


class Metrics:
    """The daemon's metrics.

    Args:
        daemon: The daemon whose state is read at scrape time (read-only).
        liveness: The current progress verdict (None: not judged).
    """

    def __init__(self, daemon: DaemonView, liveness: Callable[[], Liveness | None]) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self._lateness = _Lateness()
        reg.register(self._lateness)
        build = Gauge(BUILD_INFO.name, BUILD_INFO.help, BUILD_INFO.labels, registry=reg)
        build.labels(__version__, platform.python_version()).set(1)
        self._per_provider = _ProviderCounts()
        reg.register(_ProviderCollector(self._per_provider))
        reg.register(_StateCollector(daemon, liveness))

    def observe(self, events: list[Event]) -> None:
        """Count one batch of state events (a daemon event sink).

        Args:
            events: What one transition returned.
        """
        table = self._per_provider
        for event in events:
            if isinstance(event, ProbeCompleted):
                row = table.row(event.provider)
                table.count(row, _OUTCOME_INDEX.get(event.outcome, _UNKNOWN))
                if event.latency_ms is not None:
                    seconds = event.latency_ms / 1000.0
                    table.count(row, _BUCKET0 + bisect.bisect_left(PROBE_BUCKETS, seconds))
                    table.sums[row] += seconds
            elif isinstance(event, ProviderDown):
                table.count(table.row(event.provider), _DOWNS)
            elif isinstance(event, ProviderUp):
                table.count(table.row(event.provider), _UPS)
            elif isinstance(event, ProviderRemoved):
                table.remove(event.provider)

    def on_probe_start(self, name: str, due: float, started: float) -> None:
        """The scheduler's start callback: record how late the probe started.

        Args:
            name: The provider.
            due: When its probe was due (scheduler clock).
            started: When it started (same clock).
        """
        self._lateness.observe(max(0.0, started - due))

    def render(self) -> bytes:
        """The metrics in Prometheus text format (see `CONTENT_TYPE`)."""
        return generate_latest(_WithoutCreated(self.registry))


_OUTCOME_NAMES: tuple[str, ...] = (*(str(o) for o in Outcome), "unknown")
_OUTCOME_INDEX = {name: i for i, name in enumerate(_OUTCOME_NAMES)}
_UNKNOWN = _OUTCOME_INDEX["unknown"]


_BUCKET0 = len(_OUTCOME_NAMES)
_DOWNS = _BUCKET0 + len(PROBE_BUCKETS) + 1  # the bucket after the last bound is +Inf
_UPS = _DOWNS + 1


_WIDTH = _UPS + 1
_MASK = 0xFFFFFFFF


class _ProviderCounts:
    """Every provider's probe counters and latency histogram, as rows of two flat arrays.

    prometheus-client's labelled children cost far more than their counts (a lock per bucket),
    and even an array object per provider costs more in object headers than in counts (the
    figures are in docs/benchmarks.md). A provider is a row
    number: its `_WIDTH` counters (outcomes, then latency buckets, then down and up transitions)
    sit at `row * _WIDTH` in `counts`, its latency sum at `sums[row]`. A removed provider's row
    is reused. Counters are 32 bits and wrap (a counter reset to Prometheus): 136 years of one
    probe a second.
    """

    __slots__ = ("_free", "counts", "rows", "sums")

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.counts = array("I")
        self.sums = array("d")
        self._free: list[int] = []

    def row(self, provider: str) -> int:
        """The provider's row, made (zeroed) on first use."""
        row = self.rows.get(provider)
        if row is None:
            if self._free:
                row = self._free.pop()
                self.counts[row * _WIDTH : (row + 1) * _WIDTH] = _ZEROS
                self.sums[row] = 0.0
            else:
                row = len(self.sums)
                self.counts.extend(_ZEROS)
                self.sums.append(0.0)
            self.rows[provider] = row
        return row

    def count(self, row: int, column: int) -> None:
        """Add one to a counter of a row."""
        i = row * _WIDTH + column
        self.counts[i] = (self.counts[i] + 1) & _MASK

    def remove(self, provider: str) -> None:
        """Forget a provider (its series vanish from the next scrape)."""
        row = self.rows.pop(provider, None)
        if row is not None:
            self._free.append(row)

    def series(self) -> Iterator[tuple[str, array[int], float]]:
        """(provider, its counters, its latency sum), for each provider counted."""
        counts, sums = self.counts, self.sums
        for provider, row in self.rows.items():
            yield provider, counts[row * _WIDTH : (row + 1) * _WIDTH], sums[row]


_ZEROS = array("I", bytes(4 * _WIDTH))


class _ProviderCollector(Collector):
    """Probe counts, latency histograms and transitions per provider, from `_ProviderCounts`."""

    def __init__(self, table: _ProviderCounts) -> None:
        self._table = table

    def describe(self) -> Iterator[Metric]:
        return iter(self._families())

    def collect(self) -> Iterator[Metric]:
        probes, durations, transitions = self._families()
        bounds = [*(_le(b) for b in PROBE_BUCKETS), "+Inf"]
        for provider, counts, latency_sum in self._table.series():
            for name, count in zip(_OUTCOME_NAMES, counts[:_BUCKET0], strict=True):
                if count:
                    probes.add_metric([provider, name], count)
            cumulative = list(itertools.accumulate(counts[_BUCKET0:_DOWNS]))
            if cumulative[-1]:
                durations.add_metric(
                    [provider], list(zip(bounds, cumulative, strict=True)), latency_sum
                )
            if counts[_DOWNS]:
                transitions.add_metric([provider, "down"], counts[_DOWNS])
            if counts[_UPS]:
                transitions.add_metric([provider, "up"], counts[_UPS])
        return iter((probes, durations, transitions))

    @staticmethod
    def _families() -> tuple[CounterMetricFamily, HistogramMetricFamily, CounterMetricFamily]:
        return (
            CounterMetricFamily(
                PROBES.name.removesuffix("_total"), PROBES.help, labels=PROBES.labels
            ),
            HistogramMetricFamily(
                PROBE_DURATION.name, PROBE_DURATION.help, labels=PROBE_DURATION.labels
            ),
            CounterMetricFamily(
                TRANSITIONS.name.removesuffix("_total"), TRANSITIONS.help, labels=TRANSITIONS.labels
            ),
        )


class _Lateness(Collector):
    """The scheduler's lateness histogram: counted per probe in a plain array, built at scrape.

    prometheus-client's `Histogram` takes a lock for its sum and another for the bucket on
    every observation, once per probe started; the daemon's loop is its only writer.
    """

    def __init__(self) -> None:
        self._counts = array("Q", bytes(8 * (len(LATENESS_BUCKETS) + 1)))
        self._sum = 0.0

    def observe(self, seconds: float) -> None:
        """Count one probe's lateness."""
        self._counts[bisect.bisect_left(LATENESS_BUCKETS, seconds)] += 1
        self._sum += seconds

    def describe(self) -> Iterator[Metric]:
        return iter([HistogramMetricFamily(LATENESS.name, LATENESS.help)])

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(LATENESS.name, LATENESS.help)
        bounds = [*(_le(b) for b in LATENESS_BUCKETS), "+Inf"]
        cumulative = itertools.accumulate(self._counts)
        family.add_metric([], list(zip(bounds, cumulative, strict=True)), self._sum)
        return iter([family])


def _le(bound: float) -> str:
    # The `le` label as prometheus-client writes it for its own histograms (0.025, 1.0, 30.0).
    return repr(float(bound))


class _WithoutCreated(Collector):
    """A registry's metrics without the `_created` series.

    They would double every counter and histogram series for nothing an alert uses. The
    library's own switch (`disable_created_metrics`) is process-wide, which an application
    embedding the daemon next to its own metrics would not expect.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            # Each collect() builds fresh Metric objects: filtering them in place is safe.
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


class _StateCollector(Collector):
    """Gauges (and the store's save counter) read from the daemon at scrape time."""

    def __init__(self, daemon: DaemonView, liveness: Callable[[], Liveness | None]) -> None:
        self._daemon = daemon
        self._liveness = liveness

    def describe(self) -> Iterator[Metric]:
        # Declared without samples, so registering does not read a daemon not started yet.
        g, c = _families()
        return iter([*g.values(), *c.values()])

    def collect(self) -> Iterator[Metric]:
        d = self._daemon
        g, c = _families()
        for name in d.probed:
            provider = d.state.providers.get(name)
            if provider is None:
                continue
            g["provider_up"].add_metric([name], 1.0 if provider.is_healthy(d.policy) else 0.0)
            g["provider_availability_score"].add_metric([name], provider.availability_score)
            g["provider_degraded"].add_metric([name], 1.0 if provider.degraded else 0.0)
        ledgers = d.canary_ledgers
        for name in dict.fromkeys([*d.probed, *ledgers]):  # 0 for one without a canary
            ledger = ledgers.get(name)
            spent, out = (ledger.usd, ledger.exhausted) if ledger is not None else (0.0, False)
            g["canary_spent_usd"].add_metric([name], spent)
            g["canary_budget_exhausted"].add_metric([name], 1.0 if out else 0.0)
        now = d.wall_clock()
        for name in d.probed:
            windows = d.history.windows(provider_subject(name), now, max_age=SCRAPE_CACHE_S)
            for label, avail in (windows or {}).items():
                if avail.ratio is not None:
                    g["availability_ratio"].add_metric([name, label], avail.ratio)
        for name, pool in d.state.pools.items():
            g["pool_active_models"].add_metric([name], len(pool.active_models))
            g["pool_standby_models"].add_metric([name], len(pool.standby_models))
        manager = d.manager
        if manager is not None:
            status = manager.get_sync_status()
            c["state_saves_total"].add_metric(["ok"], manager.save_counts.ok)
            c["state_saves_total"].add_metric(["failed"], manager.save_counts.failed)
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


def _families() -> tuple[dict[str, GaugeMetricFamily], dict[str, CounterMetricFamily]]:
    gauges, counters = {}, {}
    for key, spec in _SCRAPED.items():
        if spec.kind == "counter":
            counters[key] = CounterMetricFamily(spec.name, spec.help, labels=spec.labels)
        else:
            gauges[key] = GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
    return gauges, counters
