"""The storage package's log events: stable names, levels and fields (see docs/events.md)."""

from __future__ import annotations

from typing import Any

from modelmesh_healthd.state.events import LogEventSpec
from modelmesh_healthd.storage.base import LoadResult, LockOwner

__all__ = ["LOGGER_NAME", "LOG_EVENTS", "log_load", "log_locked"]

LOGGER_NAME = "modelmesh_healthd.storage"


def _logger() -> Any:
    # structlog only when there is something to say: `status` reads a store and, unless it
    # finds corrupt data, logs nothing.
    import structlog

    return structlog.get_logger(LOGGER_NAME)


LOG_EVENTS: tuple[LogEventSpec, ...] = (
    LogEventSpec(
        "snapshot.loaded",
        "info",
        (
            "store",
            "epoch",
            "writer_id",
            "written_at",
            "schema_version",
            "providers",
            "models",
            "pools",
        ),
        "The persisted state was restored at start (possibly the good remainder of it).",
    ),
    LogEventSpec(
        "snapshot.empty",
        "info",
        ("store",),
        "The store held no usable snapshot: the daemon starts from the configuration.",
    ),
    LogEventSpec(
        "snapshot.saved",
        "debug",
        ("store", "epoch", "rows", "full", "duration_ms"),
        "A write succeeded (info for a full save, debug for an incremental one).",
    ),
    LogEventSpec(
        "snapshot.save_failed",
        "warning",
        ("store", "reason", "attempt", "retry_in_s", "pending"),
        "A write failed (backend down, disk full, read-only); the changes are kept and retried.",
    ),
    LogEventSpec(
        "snapshot.save_recovered",
        "info",
        ("store", "epoch", "failed_attempts", "outage_s"),
        "The first successful write after failed ones: the store holds the newest state again.",
    ),
    LogEventSpec(
        "snapshot.corrupt",
        "error",
        ("store", "what", "reason", "moved_to"),
        "Corrupt data found at load was set aside (moved_to) instead of being overwritten.",
    ),
    LogEventSpec(
        "store.reset",
        "warning",
        ("store", "reason"),
        "The backend lost what it held (restarted without persistence, file removed): "
        "everything is written again.",
    ),
    LogEventSpec(
        "store.locked",
        "error",
        ("store", "owner_writer_id", "owner_host", "owner_pid", "owner_since"),
        "Another writer holds the store's lock: this daemon does not become a second writer "
        "(it waits as a standby; logged once per holder).",
    ),
    LogEventSpec(
        "store.standby",
        "info",
        ("store", "owner_writer_id", "owner_pid", "retry_in_s"),
        "This daemon waits as a standby while another holds the store's lock, and takes over "
        "as soon as the lock is free.",
    ),
    LogEventSpec(
        "store.lock_acquired",
        "info",
        ("store", "writer_id"),
        "This daemon became the store's single writer.",
    ),
    LogEventSpec(
        "store.lock_released",
        "info",
        ("store", "writer_id"),
        "This daemon gave the store's lock back at stop.",
    ),
    LogEventSpec(
        "store.release_failed",
        "warning",
        ("store", "reason"),
        "At stop, the lock could not be released or the store not closed cleanly (the lease "
        "or session lock expires by itself).",
    ),
    LogEventSpec(
        "store.lock_lost",
        "error",
        ("store", "reason"),
        "Another writer took the lock over: this daemon stops writing (not ready).",
    ),
    LogEventSpec(
        "store.write_fenced",
        "warning",
        ("store", "member", "shards", "count"),
        "The store refused rows of shards whose lease another replica took over (a stale "
        "fencing token): they were not written, and this replica stops probing those "
        "providers.",
    ),
    LogEventSpec(
        "replica.joined",
        "info",
        ("member", "lease_ttl_s", "members", "owned_providers"),
        "This daemon joined the store's replicas (store URL `replicas=on`) and took its first"
        " share.",
    ),
    LogEventSpec(
        "replica.members",
        "info",
        ("member", "members"),
        "The live replicas changed (one joined, left, or stopped heartbeating).",
    ),
    LogEventSpec(
        "replica.handed_over",
        "info",
        ("member", "providers", "count"),
        "Leases this replica should no longer hold (a replica joined) were released for their"
        " new owner.",
    ),
    LogEventSpec(
        "replica.leases_lost",
        "warning",
        ("member", "why", "providers", "count"),
        "Leases ran out (`expired`: not renewed within the TTL, e.g. after a pause) or were "
        "taken (`lost`): this replica stopped probing those providers.",
    ),
    LogEventSpec(
        "replica.store_unavailable",
        "warning",
        ("member", "reason"),
        "A coordination round failed (store out of reach); leases past their TTL are dropped,"
        " rounds retry every second.",
    ),
    LogEventSpec(
        "replica.vote_failed",
        "warning",
        ("member", "provider", "reason"),
        "This site's vote on a provider could not be written (store out of reach); its last "
        "vote stops counting once it is no longer fresh.",
    ),
    LogEventSpec(
        "replica.round_failed",
        "error",
        ("member", "reason"),
        "A coordination round hit a bug (logged with the traceback); the next round follows "
        "in a second.",
    ),
    LogEventSpec(
        "replica.left",
        "info",
        ("member", "released"),
        "At stop, this replica left the membership and released its leases: the others take "
        "over at once.",
    ),
    LogEventSpec(
        "replica.leave_failed",
        "warning",
        ("member", "reason"),
        "At stop, the store could not be told: the leases expire by themselves after the TTL.",
    ),
)
"""Every log event the storage package emits."""


def log_load(store: str, result: LoadResult, *, writer: bool) -> None:
    """Report what a load found: `snapshot.corrupt` per piece set aside (or skipped, for a
    reader), then, for a writer, `snapshot.loaded` or `snapshot.empty`."""
    if not result.set_aside and not writer:
        return
    _log = _logger()
    for piece in result.set_aside:
        _log.error(
            "snapshot.corrupt",
            store=store,
            what=piece.what,
            reason=piece.reason,
            moved_to=piece.moved_to,
        )
    if not writer:
        return
    snap = result.snapshot
    if snap is None:
        _log.info("snapshot.empty", store=store)
        return
    _log.info(
        "snapshot.loaded",
        store=store,
        epoch=snap.epoch,
        writer_id=snap.writer_id,
        written_at=snap.written_at,
        schema_version=snap.schema_version,
        providers=len(snap.state.providers),
        models=len(snap.state.models),
        pools=len(snap.state.pools),
    )


def log_locked(store: str, owner: LockOwner | None) -> None:
    """Report a refused lock (`store.locked`), naming the holder when known."""
    _log = _logger()
    _log.error(
        "store.locked",
        store=store,
        owner_writer_id=owner.writer_id if owner else None,
        owner_host=owner.host if owner else None,
        owner_pid=owner.pid if owner else None,
        owner_since=owner.since if owner else None,
    )
