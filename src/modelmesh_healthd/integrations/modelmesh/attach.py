"""`attach(mesh_or_client, store=URL)`: keep a running ModelMesh in step with the daemon's store.

In the router, two lines::

    from modelmesh_healthd.integrations.modelmesh import attach
    attach(client, store="redis://127.0.0.1:6379/0")

From then on the daemon's verdicts reach every pool (`pools.PoolSync`): within one notification
on Redis (pub/sub) and PostgreSQL (LISTEN/NOTIFY), within one poll on SQLite and file stores
(`poll_interval`, 1 s by default). With `admin_url` and `reports_token`, the router's real request
outcomes go back to the daemon as passive evidence (`feedback.Feedback`).

Staleness: when the store cannot be read for `stale_after` seconds (30 s by default), the last
known verdicts are no longer trusted: every standby `attach` caused is handed back (reactivated),
and ModelMesh routes by its own rules (its failure threshold) until the store answers again, when
the fresh verdicts are applied at once. Closing hands back the same way.

It runs as a task on the caller's event loop when `attach` is called inside one (async programs),
and on a background thread with its own loop otherwise (sync programs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from modelmesh_healthd.integrations.modelmesh.feedback import Feedback, ReportSender
from modelmesh_healthd.integrations.modelmesh.pools import PoolChange, PoolSync
from modelmesh_healthd.state.model import STANDBY
from modelmesh_healthd.state.system import SystemState
from modelmesh_healthd.storage.errors import StoreError
from modelmesh_healthd.storage.left_behind import within
from modelmesh_healthd.storage.notify import ChangeFeed, change_feed
from modelmesh_healthd.storage.read_only import read_snapshot
from modelmesh_healthd.storage.urls import open_store, redact_url

__all__ = ["Attachment", "attach", "standby_of"]

_log = logging.getLogger("modelmesh_healthd.attach")


_MIN_GAP = 0.05
"""Seconds a notified change waits for more to come before the one read that takes them all."""


def standby_of(state: SystemState) -> dict[str, str | None]:
    """Model id -> deactivation reason of every model the daemon holds in standby."""
    return {
        name: model.deactivation_reason
        for name, model in state.models.items()
        if model.status == STANDBY
    }


def _mesh_of(mesh_or_client: Any) -> Any:
    mesh = getattr(mesh_or_client, "mesh", mesh_or_client)  # MeshClient.mesh -> ModelMesh
    if not hasattr(mesh, "pools") or not hasattr(mesh, "event_emitter"):
        raise TypeError(
            f"attach() takes a modelmesh ModelMesh or MeshClient, got {type(mesh_or_client)!r}"
        )
    return mesh


class Attachment:
    """One ModelMesh kept in step with one store. Build it with `attach`.

    Attributes:
        stale: True while the store has not been read for `stale_after` seconds.
        changes: Every pool change made so far, oldest first (bounded to the last 1,000).
    """

    def __init__(
        self,
        mesh: Any,
        store: str,
        *,
        poll_interval: float,
        resync_interval: float,
        stale_after: float,
        admin_url: str | None,
        reports_token: str | None,
        report_interval: float,
        max_batch: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        open_store(store)  # a bad URL or a missing driver is said now, in the caller's frame
        self._mesh = mesh
        self._url = store
        self._poll, self._resync, self._stale_after = poll_interval, resync_interval, stale_after
        self._report_interval, self._max_batch = report_interval, max_batch
        self._mono = monotonic
        self._sync = PoolSync(mesh)
        self._feedback: Feedback | None = None
        self._admin_url, self._token = admin_url, reports_token
        if admin_url is not None and reports_token:
            self._feedback = Feedback(mesh)
        self.stale = False
        self.changes: list[PoolChange] = []
        self.reads = 0
        """Successful reads of the store."""
        self._last_ok = monotonic()
        self._synced = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def __repr__(self) -> str:
        mode = "thread" if self._thread else "task" if self._task else "stopped"
        return f"Attachment(store={redact_url(self._url)!r}, {mode}, stale={self.stale})"

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start on the running loop (async caller) or on a thread (sync caller)."""
        if self._feedback is not None:
            self._feedback.install()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            self._loop = loop
            self._task = loop.create_task(self._run(), name="modelmesh-healthd-attach")
            return
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._task = loop.create_task(self._run(), name="modelmesh-healthd-attach")
            ready.set()
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(self._task)
            loop.close()

        self._thread = threading.Thread(target=main, name="modelmesh-healthd-attach", daemon=True)
        self._thread.start()
        ready.wait()

    def wait_synced(self, timeout: float | None = None) -> bool:
        """Block until the first successful read was applied (or `timeout` passed).

        Returns:
            True once synced.
        """
        return self._synced.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop (sync): hand back the standbys `attach` caused, send the last reports.

        From an async program prefer `await aclose()`, which waits for the last reports.
        """
        if self._closed:
            return
        self._closed = True
        if self._thread is not None and self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
            self._thread.join(timeout)
        elif self._task is not None:
            self._task.cancel()
            self._hand_back()  # the task may not run again before the caller goes on
        self._uninstall()

    async def aclose(self) -> None:
        """Stop (async): as `close`, waiting for the task to finish."""
        if self._closed:
            return
        if self._thread is not None:
            await asyncio.to_thread(self.close)
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._uninstall()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _uninstall(self) -> None:
        if self._feedback is not None:
            self._feedback.uninstall()

    def _hand_back(self) -> None:
        self._record(self._sync.release())

    def _record(self, changes: list[PoolChange]) -> None:
        for c in changes:
            _log.info("attach.%s pool=%s model=%s reason=%s", c.action, c.pool, c.model, c.reason)
        self.changes.extend(changes)
        del self.changes[:-1000]

    # --- the loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        sender = None
        if self._feedback is not None and self._admin_url and self._token:
            sender = ReportSender(self._admin_url, self._token)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._watch())
                if sender is not None:
                    group.create_task(self._report(sender))
        finally:
            self._hand_back()
            if sender is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2.0):
                        await self._flush(sender)
                await sender.aclose()

    async def _watch(self) -> None:
        feed: ChangeFeed | None = None
        notifying = change_feed(self._url) is not None
        try:
            while True:
                if notifying and feed is None:
                    feed = await self._open_feed()
                await self._refresh()
                if feed is None:
                    await asyncio.sleep(self._poll)
                    continue
                try:
                    if await feed.wait(self._resync):
                        await self._coalesce(feed)
                except StoreError:
                    await _close_feed(feed)
                    feed = None
                    await asyncio.sleep(self._poll)
        finally:
            if feed is not None:
                await _close_feed(feed)

    async def _coalesce(self, feed: ChangeFeed) -> None:
        """Let a burst of writes settle into one read.

        A daemon writes once per change, so a busy fleet can announce hundreds of writes a
        second; each read is the whole state. One read per `_MIN_GAP` at most, taking every
        announcement made meanwhile, keeps the router's cost bounded for a delay it cannot see.
        """
        await asyncio.sleep(_MIN_GAP)
        for _ in range(10_000):
            if not await feed.wait(0):
                return

    async def _open_feed(self) -> ChangeFeed | None:
        feed = change_feed(self._url)
        if feed is None:
            return None
        try:
            await within(feed.__aenter__(), max(self._poll, 5.0))
        except (StoreError, TimeoutError):
            await _close_feed(feed)  # a connection half made when the time ran out
            return None
        except asyncio.CancelledError:
            # Closing while the feed opens: an opening that ignores its cancellation (3.11's
            # wait_for, inside redis-py, can) and subscribes anyway then closes itself.
            await _close_feed(feed)
            raise
        return feed

    async def _refresh(self) -> None:
        try:
            snapshot = await within(read_snapshot(self._url), max(self._poll * 5, 5.0))
        except (StoreError, TimeoutError, OSError) as exc:
            self._unreadable(exc)
            return
        self.reads += 1
        self._last_ok = self._mono()
        if self.stale:
            self.stale = False
            _log.warning("attach.fresh store=%s", redact_url(self._url))
        standby: Mapping[str, str | None] = {} if snapshot is None else standby_of(snapshot.state)
        try:
            self._record(self._sync.apply(standby))
        except Exception:  # noqa: BLE001 - a surprise in the router's objects must not end attach
            _log.exception("attach.apply_failed store=%s", redact_url(self._url))
            return
        self._synced.set()

    def _unreadable(self, exc: BaseException) -> None:
        if self.stale:
            return
        silent_for = self._mono() - self._last_ok
        if silent_for < self._stale_after:
            _log.warning("attach.read_failed store=%s error=%s", redact_url(self._url), exc)
            return
        self.stale = True
        _log.warning(
            "attach.stale store=%s unread_for_s=%.1f: handing the pools back to ModelMesh",
            redact_url(self._url),
            silent_for,
        )
        self._hand_back()

    async def _report(self, sender: ReportSender) -> None:
        while True:
            await asyncio.sleep(self._report_interval)
            await self._flush(sender)

    async def _flush(self, sender: ReportSender) -> None:
        feedback = self._feedback
        assert feedback is not None
        while batch := feedback.drain(self._max_batch):
            try:
                await sender.send(batch)
            except httpx.HTTPError as exc:
                feedback.dropped += len(batch)
                _log.warning("attach.report_failed dropped=%d error=%s", len(batch), exc)
                return


async def _close_feed(feed: ChangeFeed) -> None:
    with contextlib.suppress(Exception):
        await feed.__aexit__(None, None, None)


def attach(
    mesh_or_client: Any,
    store: str,
    *,
    poll_interval: float = 1.0,
    resync_interval: float = 10.0,
    stale_after: float = 30.0,
    admin_url: str | None = None,
    reports_token: str | None = None,
    report_interval: float = 1.0,
    max_batch: int = 500,
) -> Attachment:
    """Keep a running ModelMesh in step with the daemon's store, and started.

    Args:
        mesh_or_client: A `ModelMesh` or the `MeshClient` it gave.
        store: The daemon's store URL.
        poll_interval: Seconds between reads of stores without notifications (SQLite, file).
        resync_interval: Seconds between reads of notifying stores when nothing was announced.
        stale_after: Seconds without a successful read before the verdicts are handed back.
        admin_url: The daemon's admin base URL, to report request outcomes to (optional).
        reports_token: The daemon's `admin.token` (reports are sent only with both).
        report_interval: Seconds between batches of reports.
        max_batch: Reports per request at most.

    Returns:
        The running `Attachment` (a context manager; `close()` stops it).

    Raises:
        TypeError: Not a ModelMesh or MeshClient.
        StoreURLError: Bad store URL, or its driver is not installed.
        ValueError: A non-positive interval.
    """
    for name, value in (
        ("poll_interval", poll_interval),
        ("resync_interval", resync_interval),
        ("stale_after", stale_after),
        ("report_interval", report_interval),
    ):
        if not value > 0:
            raise ValueError(f"attach(): {name} must be > 0 seconds, got {value!r}")
    if max_batch < 1:
        raise ValueError(f"attach(): max_batch must be >= 1, got {max_batch!r}")
    attachment = Attachment(
        _mesh_of(mesh_or_client),
        store,
        poll_interval=poll_interval,
        resync_interval=resync_interval,
        stale_after=stale_after,
        admin_url=admin_url,
        reports_token=reports_token,
        report_interval=report_interval,
        max_batch=max_batch,
    )
    attachment.start()
    return attachment
