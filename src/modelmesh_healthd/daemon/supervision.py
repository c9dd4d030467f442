"""The daemon's face to what runs and watches it: systemd, a container runtime, Prometheus.

The Daemon calls a handful of hooks at the points of its lifecycle (`start_admin` first in
startup, `waiting_for_store` while the store is down at start, `started` once ready,
`reloading`/`reloaded` around a SIGHUP, `stopping` and `close` in shutdown); everything else
happens here, in one background task that once per tick:

* judges the scheduler's progress (`liveness.judge`) and logs `scheduler.stalled` /
  `scheduler.resumed` when the verdict changes;
* sends `WATCHDOG=1` at half of systemd's `WATCHDOG_USEC`, but only while the scheduler makes
  progress, so a stuck daemon is restarted by systemd instead of being kept alive by a timer;
* sends a one-line `STATUS=` when the fleet's health changed;
* rewrites the heartbeat file that `modelmesh-healthd health` reads when there is no admin
  endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import structlog

from modelmesh_healthd.daemon.liveness import Liveness, heartbeat_path, judge, write_heartbeat
from modelmesh_healthd.daemon.metrics import Metrics
from modelmesh_healthd.daemon.sdnotify import Notifier, monotonic_usec, watchdog_interval
from modelmesh_healthd.daemon.view import DaemonControls
from modelmesh_healthd.state import Event, ProbeCompleted

if TYPE_CHECKING:
    from modelmesh_healthd.daemon.admin import AdminServer

__all__ = ["Supervision"]

_log = structlog.get_logger("modelmesh_healthd.daemon")

HEARTBEAT_EVERY = 5.0
"""Seconds between heartbeat file writes (less when `stall_after` is short)."""
STATUS_REFRESH = 30.0
"""Seconds between `STATUS=` messages when nothing changed (counts of pending providers move
without transition events)."""
STORE_ATTEMPT_ALLOWANCE = 30.0
"""Seconds one attempt to open the store may take, on top of the wait before it, when asking
systemd to extend the start timeout (`EXTEND_TIMEOUT_USEC=`)."""
_STATUS_POOLS = 3
"""Empty pools named in the status line; more are counted."""


class Supervision:
    """Admin endpoint, metrics, sd_notify, watchdog and heartbeat of one daemon.

    Args:
        daemon: The daemon, as its observers see it (plus `probe_now`, for routers' reports).
        environ: The process environment (says whether systemd watches, where the heartbeat goes).
    """

    def __init__(self, daemon: DaemonControls, environ: Mapping[str, str]) -> None:
        self._daemon = daemon
        self.notifier = Notifier(environ)
        self.watchdog_every = watchdog_interval(environ, os.getpid())
        """Seconds between watchdog pings (None: no watchdog asked)."""
        self.heartbeat = heartbeat_path(environ)
        """The heartbeat file (None: no runtime or state directory in the environment)."""
        self.metrics = Metrics(daemon, self.liveness)
        self.admin: AdminServer | None = None
        self._phase = "starting"
        self._task: asyncio.Task[None] | None = None
        self._stalled_at: float | None = None
        self._status_dirty = True
        self._heartbeat_failed = False
        self.sinks: tuple[Callable[[list[Event]], None], ...] = (
            self.metrics.observe,
            self._observe,
        )
        """What the daemon must feed every batch of state events to."""

    # --- hooks the daemon calls -------------------------------------------------------

    async def start_admin(self) -> bool:
        """Bind the admin endpoint (in startup once the store is ours, before any probe: a taken
        port fails the start and the store's lock is given back).

        Returns:
            False if it is enabled but cannot listen (logged as `admin.failed`).
        """
        cfg = self._daemon.config.admin
        if not cfg.enabled:
            return True
        # aiohttp's server only for a daemon that serves: a reload keeps the admin settings,
        # so one started without the endpoint never needs it.
        from modelmesh_healthd.daemon.admin import AdminServer

        server = AdminServer(self._daemon, self.metrics, self.liveness, cfg.host, cfg.port)
        try:
            await server.start()
        except OSError as exc:
            _log.error("admin.failed", listen=cfg.listen, reason=exc.strerror or str(exc))
            return False
        self.admin = server
        _log.info("admin.started", listen=server.listen)
        return True

    def waiting_for_store(self, retry_in: float) -> None:
        """Startup waits for a store that is down: say so, and ask systemd for more time.

        Args:
            retry_in: Seconds until the next attempt.
        """
        # The next attempt may itself take a while (a connect timeout): allow for it too.
        extend = int((retry_in + STORE_ATTEMPT_ALLOWANCE) * 1_000_000)
        self.notifier.notify(
            f"STATUS=waiting for the state store (next attempt in {retry_in:g}s)",
            f"EXTEND_TIMEOUT_USEC={extend}",
        )

    def started(self) -> None:
        """State restored and the scheduler running: tell systemd, start the periodic work."""
        self._phase = "running"
        self.notifier.notify("READY=1", f"STATUS={self.status_line()}")
        self._status_dirty = False
        self._task = asyncio.create_task(self._run(), name="supervision")

    def reloading(self) -> None:
        """A SIGHUP is being handled (systemd's `Type=notify-reload` waits for `READY=1`)."""
        self.notifier.notify(
            "RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}", "STATUS=reloading configuration"
        )

    def reloaded(self) -> None:
        """The reload is over, applied or not: the daemon runs on (new or old) configuration."""
        self.notifier.notify("READY=1", f"STATUS={self.status_line()}")

    async def stopping(self) -> None:
        """Shutdown began: no more watchdog pings or heartbeats; `health` reports it gone."""
        self._phase = "stopping"
        self.notifier.notify("STOPPING=1", "STATUS=stopping: draining probes, saving the state")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.heartbeat is not None:
            with contextlib.suppress(OSError):
                self.heartbeat.unlink(missing_ok=True)

    async def close(self) -> None:
        """Stop the admin endpoint and let go of the notify socket (last in shutdown)."""
        if self.admin is not None:
            await self.admin.stop()
            _log.info("admin.stopped", listen=self.admin.listen)
            self.admin = None
        self.notifier.close()

    # --- judgements ---------------------------------------------------------------------

    def liveness(self) -> Liveness:
        """Whether the scheduler makes progress now (`/livez`, watchdog, heartbeat)."""
        scheduler = self._daemon.scheduler
        if self._phase != "running" or scheduler is None:
            return Liveness(False, self._phase)
        last = scheduler.stats.last_completed_at
        return judge(
            overdue=scheduler.overdue(),
            since_completion=None if last is None else scheduler.now() - last,
            stall_after=self._daemon.config.daemon.stall_after,
        )

    def status_line(self) -> str:
        """One line for `systemctl status`: providers up/down/pending and empty pools."""
        c = self._daemon.counts()
        line = f"{c['up']}/{c['providers']} providers up, {c['down']} down, {c['pending']} pending"
        if c["held"]:
            line += f", {c['held']} held (network suspect)"
        empty: list[str] = c["empty_pools"]
        if empty:
            named = ", ".join(empty[:_STATUS_POOLS])
            more = f" and {len(empty) - _STATUS_POOLS} more" if len(empty) > _STATUS_POOLS else ""
            line += f"; empty pools: {named}{more}"
        else:
            line += "; no pool empty"
        return line

    # --- the periodic work ----------------------------------------------------------------

    def _observe(self, events: list[Event]) -> None:
        if not self._status_dirty and any(
            not isinstance(e, ProbeCompleted) or e.outcome != "ok" for e in events
        ):
            self._status_dirty = True

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_ping = next_beat = loop.time()
        next_status = loop.time() + STATUS_REFRESH
        failed = False
        while True:
            stall_after = self._daemon.config.daemon.stall_after  # a reload may change it
            beat_every = min(HEARTBEAT_EVERY, stall_after / 4)
            tick = min(1.0, beat_every)
            if self.watchdog_every is not None:
                tick = min(tick, self.watchdog_every / 2)
            now = loop.time()
            try:
                verdict = self.liveness()
                self._track_stall(verdict, now)
                if self.watchdog_every is not None and now >= next_ping and verdict.live:
                    self.notifier.notify("WATCHDOG=1")
                    next_ping = now + self.watchdog_every
                if self.notifier.enabled and (self._status_dirty or now >= next_status):
                    self._status_dirty = False
                    next_status = now + STATUS_REFRESH
                    self.notifier.notify(f"STATUS={self.status_line()}")
                if self.heartbeat is not None and now >= next_beat:
                    next_beat = now + beat_every
                    await self._beat(verdict, stale_after=stall_after + 2 * beat_every)
            except Exception:  # noqa: BLE001 - a bug here must not end supervision silently
                if not failed:
                    _log.exception("supervision.failed")
                failed = True
            await asyncio.sleep(tick)

    def _track_stall(self, verdict: Liveness, now: float) -> None:
        scheduler = self._daemon.scheduler
        if not verdict.live and self._stalled_at is None:
            self._stalled_at = now
            _log.error(
                "scheduler.stalled",
                reason=verdict.reason,
                overdue_s=round(verdict.overdue_s, 3),
                in_flight=0 if scheduler is None else scheduler.in_flight,
                stall_after_s=self._daemon.config.daemon.stall_after,
            )
        elif verdict.live and self._stalled_at is not None:
            _log.info("scheduler.resumed", stalled_for_s=round(now - self._stalled_at, 3))
            self._stalled_at = None

    async def _beat(self, verdict: Liveness, *, stale_after: float) -> None:
        assert self.heartbeat is not None
        record = {
            "pid": os.getpid(),
            "instance": self._daemon.config.daemon.instance,
            "written_at": self._daemon.wall_clock(),
            "stale_after": stale_after,
            "live": verdict.live,
            "reason": verdict.reason,
        }
        try:
            await asyncio.to_thread(write_heartbeat, self.heartbeat, record)
        except OSError as exc:
            if not self._heartbeat_failed:
                self._heartbeat_failed = True
                _log.warning(
                    "heartbeat.write_failed",
                    path=str(self.heartbeat),
                    reason=exc.strerror or str(exc),
                )
            return
        self._heartbeat_failed = False
