"""The one catalogue of log events: every event name the daemon's process writes.

Each layer declares the events it logs next to the code that logs them (the typed state events in
`state.events`, the guard's among them; `storage.LOG_EVENTS`; `probes.LOG_EVENTS`;
`simulator.LOG_EVENTS`; routers' reports in `daemon.reports`; the daemon's own below).
`EVENT_CATALOGUE` gathers them into one mapping, name -> spec, and refuses a name declared twice.
docs/events.md is checked against it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from modelmesh_healthd import probes, simulator, storage
from modelmesh_healthd.daemon import reports
from modelmesh_healthd.daemon.history import LOG_EVENTS as HISTORY_LOG_EVENTS
from modelmesh_healthd.state import STATE_EVENTS, Event, LogEventSpec

__all__ = ["EVENT_CATALOGUE", "LOG_EVENTS"]

LOG_EVENTS: tuple[LogEventSpec, ...] = (
    LogEventSpec(
        "canary.completed",
        "info",
        (
            "provider",
            "model",
            "outcome",
            "ttft_ms",
            "prompt_tokens",
            "completion_tokens",
            "reasoning_tokens",
            "cost_usd",
            "detail",
        ),
        "One model's canary completion came back (or failed); its usage and cost.",
    ),
    LogEventSpec(
        "canary.budget_exhausted",
        "warning",
        ("provider", "spent_usd", "spent_tokens", "budget_usd", "budget_tokens", "skipped"),
        "The provider's daily canary budget refused a canary: no more canaries today (UTC).",
    ),
    LogEventSpec(
        "canary.unrecorded",
        "warning",
        ("provider", "models"),
        "The canaries' worst-case spend could not be stored first, so none was sent.",
    ),
    LogEventSpec(
        "daemon.started",
        "info",
        ("providers", "models", "pools", "store", "sync_policy", "restored", "version"),
        "Startup finished: state restored and reconciled, the scheduler running.",
    ),
    LogEventSpec(
        "daemon.stopping",
        "info",
        ("signal", "drain_timeout_s"),
        "A stop was requested; in-flight probes get the drain deadline.",
    ),
    LogEventSpec(
        "daemon.stop_forced",
        "warning",
        ("in_flight",),
        "A second SIGINT during the drain: in-flight probes are cancelled, the state saved.",
    ),
    LogEventSpec(
        "daemon.stopped",
        "info",
        ("reason", "cancelled_probes", "saved"),
        "Shutdown finished: probes drained, final state saved, lock released.",
    ),
    LogEventSpec(
        "daemon.tasks_left_running",
        "warning",
        ("tasks",),
        "At stop, background tasks still ran after being cancelled again and again until the "
        "stop's deadline; the stop went on without them.",
    ),
    LogEventSpec(
        "daemon.save_timeout",
        "error",
        ("store", "timeout_s"),
        "At stop, the final save did not finish in time; the store keeps its previous write.",
    ),
    LogEventSpec(
        "daemon.store_unavailable",
        "warning",
        ("store", "reason", "retry_in_s"),
        "At start, the state store cannot be reached; the daemon waits for it (not ready).",
    ),
    LogEventSpec(
        "daemon.lock_lost",
        "error",
        ("store",),
        "Another writer took the store over: the daemon stops and exits 1.",
    ),
    LogEventSpec(
        "daemon.startup_failed",
        "error",
        ("reason",),
        "The daemon could not start (store unreachable or locked, ...); it exits 1.",
    ),
    LogEventSpec(
        "daemon.reloaded",
        "info",
        ("source", "added", "removed", "changed", "unchanged"),
        "A valid configuration was applied on SIGHUP; unchanged providers kept their state.",
    ),
    LogEventSpec(
        "config.invalid",
        "error",
        ("source", "errors"),
        "SIGHUP found an invalid configuration; nothing was changed.",
    ),
    LogEventSpec(
        "config.restart_required",
        "warning",
        ("key",),
        "A reloaded setting that only takes effect at the next start (e.g. storage.url).",
    ),
    LogEventSpec(
        "daemon.summary",
        "info",
        (
            "providers",
            "up",
            "down",
            "pending",
            "held",
            "empty_pools",
            "probes",
            "in_flight",
            "max_lateness_ms",
        ),
        "Periodic one-line health of the fleet (every daemon.summary_interval).",
    ),
    LogEventSpec(
        "scheduler.job_failed",
        "error",
        ("provider",),
        "A probe job raised (a bug); the provider is probed again in 30 s, others carry on.",
    ),
    LogEventSpec(
        "admin.started",
        "info",
        ("listen",),
        "The admin endpoint (/livez, /readyz, /metrics, /v1/state) listens on host:port.",
    ),
    LogEventSpec(
        "admin.failed",
        "error",
        ("listen", "reason"),
        "The admin endpoint could not listen (port in use, bad address): the daemon gives the "
        "store's lock back and exits 1.",
    ),
    LogEventSpec(
        "admin.stopped",
        "info",
        ("listen",),
        "The admin endpoint stopped, at the end of shutdown.",
    ),
    LogEventSpec(
        "scheduler.stalled",
        "error",
        ("reason", "overdue_s", "in_flight", "stall_after_s"),
        "No probe completed and one waited past its due time for daemon.stall_after: /livez "
        "and health fail, systemd watchdog pings stop.",
    ),
    LogEventSpec(
        "scheduler.resumed",
        "info",
        ("stalled_for_s",),
        "The scheduler makes progress again after scheduler.stalled.",
    ),
    LogEventSpec(
        "systemd.notify_failed",
        "warning",
        ("socket", "reason"),
        "A message to systemd's NOTIFY_SOCKET could not be sent (logged once; the daemon runs on).",
    ),
    LogEventSpec(
        "heartbeat.write_failed",
        "warning",
        ("path", "reason"),
        "The heartbeat file could not be written (logged once until a write succeeds again).",
    ),
    LogEventSpec(
        "supervision.failed",
        "error",
        (),
        "The supervision task hit a bug (logged once with the traceback); it carries on.",
    ),
)


def _spec_of(event: type[Event]) -> LogEventSpec:
    fields = tuple("from" if f.name == "from_" else f.name for f in dataclasses.fields(event))
    return LogEventSpec(event.name, event.level, fields, " ".join((event.__doc__ or "").split()))


def _catalogue(*groups: Iterable[LogEventSpec]) -> Mapping[str, LogEventSpec]:
    out: dict[str, LogEventSpec] = {}
    for group in groups:
        for spec in group:
            if spec.name in out:
                raise ValueError(f"log event {spec.name!r} is declared twice")
            out[spec.name] = spec
    return MappingProxyType(out)


EVENT_CATALOGUE: Mapping[str, LogEventSpec] = _catalogue(
    map(_spec_of, STATE_EVENTS),
    LOG_EVENTS,
    reports.LOG_EVENTS,
    storage.LOG_EVENTS,
    probes.LOG_EVENTS,
    simulator.LOG_EVENTS,
    HISTORY_LOG_EVENTS,
)
"""Every log event, by name: the state events, then the daemon's, storage's, probes' and the
simulator's."""
