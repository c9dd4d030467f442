"""Metrics of a replica (store URL `replicas=on`), read from its coordinator at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from modelmesh_healthd.daemon.metrics import NS, MetricSpec

if TYPE_CHECKING:
    from prometheus_client import Metric


class _Counts(Protocol):
    members: int
    owned_providers: int
    lease_renewals: int
    takeovers: int
    votes: int
    quorum_pending: int


class _Store(Protocol):
    fenced_writes: int


class Coordinator(Protocol):
    """What the collector reads of a replica's coordinator."""

    @property
    def counts(self) -> _Counts: ...
    @property
    def store(self) -> _Store: ...


__all__ = ["REPLICA_METRICS", "ReplicaCollector"]

REPLICA_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(f"{NS}_replica_members", "gauge", (), "Live replicas sharing the store."),
    MetricSpec(
        f"{NS}_replica_owned_providers", "gauge", (), "Providers this replica holds leases on."
    ),
    MetricSpec(f"{NS}_replica_lease_renewals_total", "counter", (), "Leases this replica renewed."),
    MetricSpec(
        f"{NS}_replica_fenced_writes_total",
        "counter",
        (),
        "Shards whose rows the store refused from this replica (a stale fencing token).",
    ),
    MetricSpec(
        f"{NS}_replica_takeovers_total",
        "counter",
        (),
        "Providers this replica took over with the state another replica had stored.",
    ),
    MetricSpec(
        f"{NS}_replica_votes_total",
        "counter",
        (),
        "Votes this replica wrote for its site (quorum across sites).",
    ),
    MetricSpec(
        f"{NS}_replica_quorum_pending",
        "gauge",
        (),
        "Providers this replica writes that its site sees down, held until enough sites agree.",
    ),
)
"""Every replica metric (exposed only by replicas)."""


class ReplicaCollector(Collector):
    """The replica metrics, read from the coordinator at scrape time."""

    def __init__(self, coordinator: Coordinator) -> None:
        self._coordinator = coordinator

    def collect(self) -> Iterator[Metric]:
        c = self._coordinator
        values = (
            c.counts.members,
            c.counts.owned_providers,
            c.counts.lease_renewals,
            c.store.fenced_writes,
            c.counts.takeovers,
            c.counts.votes,
            c.counts.quorum_pending,
        )
        for spec, value in zip(REPLICA_METRICS, values, strict=True):
            if spec.kind == "counter":
                family: Metric = CounterMetricFamily(
                    spec.name.removesuffix("_total"), spec.help, value=value
                )
            else:
                family = GaugeMetricFamily(spec.name, spec.help, value=value)
            yield family
