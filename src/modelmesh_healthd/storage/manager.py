"""StateManager: when and what to persist, with ModelMesh's API and sync policies.

The daemon owns one live SystemState and mutates it on the event loop. It hands the state to the
manager once (`attach`) and, after every transition, the events the core returned (`record`).
`record` only marks rows as dirty: it never blocks, never does I/O and never raises. A single
background task writes: serialization of the dirty rows happens on the loop at flush time (the
objects are mutated there), the I/O is async or on a thread.

A failed write keeps its rows dirty and is retried. While the backend does not even answer a
ping, it is pinged every `ping_every` seconds (cheap: nothing is serialized), so its return is
noticed at once and the newest state written within a second or two; a backend that answers but
refuses the write gets capped exponential backoff instead, so a full disk is not hammered. A
backend that lost its data (StoreResetError) gets a full save.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Self

import structlog

from modelmesh_healthd.state.events import Event
from modelmesh_healthd.state.mesh import Mesh
from modelmesh_healthd.state.system import SCHEMA_VERSION, SystemState
from modelmesh_healthd.storage.base import Envelope, LockHandle, LockOwner, StateStore
from modelmesh_healthd.storage.errors import (
    LockLostError,
    StoreLockedError,
    StoreResetError,
)
from modelmesh_healthd.storage.log import LOGGER_NAME, log_load, log_locked
from modelmesh_healthd.storage.pending import PendingWrites, Taken
from modelmesh_healthd.storage.row_encode import make_batch, stray_models
from modelmesh_healthd.storage.status import SyncStatus

__all__ = ["WRITE_TICK", "SaveCounts", "StateManager", "SyncPolicy"]

_log = structlog.get_logger(LOGGER_NAME)

WRITE_TICK = 0.25
"""The daemon's `min_gap` under `immediate`: the changes of a quarter second go to the store in
one transaction, so a busy fleet pays one write per tick rather than one per probe (most of the
daemon's CPU per probe went to writes one change at a time, docs/benchmarks.md). A change still
reaches the store within one tick plus the write, well before the provider's next probe."""

_RESETS_BEFORE_BACKOFF = 3
"""A store that reports a reset is rewritten at once; after this many in a row, with backoff."""


class SyncPolicy(StrEnum):
    """When the manager writes (ModelMesh's policy names)."""

    IN_MEMORY = "in-memory"
    """Never: nothing is persisted, the store is not even opened."""
    SYNC_ON_BOUNDARY = "sync-on-boundary"
    """Load at start, save at stop (and on explicit `sync()`/`save()`)."""
    PERIODIC = "periodic"
    """Write the changes every `sync_interval` seconds."""
    IMMEDIATE = "immediate"
    """Write every change as soon as possible, at most once per `min_gap` (the daemon's
    `WRITE_TICK`); changes arriving during a write or the gap go in the next one."""


@dataclass(slots=True)
class SaveCounts:
    """Write attempts since start, by result (the `state_saves_total` metric)."""

    ok: int = 0
    failed: int = 0
    """Failed attempts, including a backend still down at the retry's ping."""


class StateManager:
    """Persists one live SystemState through a StateStore under a sync policy.

    Use: `start()` (opens the store, takes its lock), `load()`, `attach(state, mesh)`,
    `record(events)` after each transition, `stop()` (final save, lock released). Also an async
    context manager doing `start()`/`stop()`.
    """

    def __init__(
        self,
        store: StateStore,
        *,
        policy: SyncPolicy | str = SyncPolicy.IMMEDIATE,
        sync_interval: float = 30.0,
        writer_id: str | None = None,
        clock: Callable[[], float] = time.time,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
        min_gap: float = 0.0,
        ping_every: float = 1.0,
    ) -> None:
        """Args:
        store: The backend (from `open_store(url)`), not yet opened.
        policy: When to write (see `SyncPolicy`).
        sync_interval: Seconds between writes under `periodic`.
        writer_id: Names this daemon in the envelope and the lock (default `host:pid`).
        clock: Wall clock for the envelope's `written_at` and the lock's `since`.
        retry_initial: First delay after a failed write, in seconds; doubles per failure.
        retry_max: Cap of that delay.
        min_gap: Under `immediate`, the least time between two scheduled writes, in seconds.
            0 writes as soon as the previous write is done (changes recorded meanwhile are
            coalesced); a few milliseconds bound the write rate of a large, busy fleet
            without letting the store fall noticeably behind.
        ping_every: Seconds between pings while the backend is out of reach (the write
            follows as soon as one answers).
        """
        self.store = store
        self.policy = SyncPolicy(policy)
        if sync_interval <= 0:
            raise ValueError(f"sync_interval must be positive, got {sync_interval}")
        self.sync_interval = sync_interval
        if min_gap < 0:
            raise ValueError(f"min_gap must not be negative, got {min_gap}")
        self.min_gap = min_gap
        self.writer_id = writer_id or f"{socket.gethostname()}:{os.getpid()}"
        self._clock = clock
        self._retry_initial, self._retry_max = retry_initial, retry_max
        if ping_every <= 0:
            raise ValueError(f"ping_every must be positive, got {ping_every}")
        self._ping_every = ping_every
        self._state: SystemState | None = None
        self._mesh: Mesh | None = None
        self._pending = PendingWrites()
        self._epoch = 0
        self._handle: LockHandle | None = None
        self._entered = False
        self._lock_lost = False
        self._refused = False
        self._refused_by: str | None = None
        self._failures = 0
        self._resets = 0
        self._first_failure: float | None = None
        self._last_error: str | None = None
        self._retry_at: float | None = None
        self._next_tick: float | None = None
        self._last_write: float | None = None
        self._last_sync: float | None = None
        self._io = asyncio.Lock()
        self._wake = asyncio.Event()
        self._asleep = True
        """The writer waits with nothing due: only then must a change wake it (see `_run`)."""
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.save_counts = SaveCounts()
        """Write attempts by result, for metrics."""

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store and become its single writer (nothing at all under `in-memory`).

        Raises:
            StoreLockedError: Another daemon writes to this store; the message names it.
            StoreUnavailableError: The backend cannot be reached.
        """
        if self.policy is SyncPolicy.IN_MEMORY or self._entered:
            return
        await self.store.__aenter__()
        self._entered = True
        try:
            await self.acquire_lock()
        except BaseException:
            self._entered = False
            await self.store.__aexit__(None, None, None)
            raise
        self._next_tick = asyncio.get_running_loop().time() + self.sync_interval
        self._task = asyncio.create_task(self._run(), name="state-manager")

    async def stop(self) -> bool:
        """Write what is pending (per policy), release the lock, close the store.

        Returns:
            True when the store holds the current state (the final write succeeded, or nothing
            was owed); False when it does not (store down, lock lost).

        Never raises for a backend fault: a store that is down at shutdown is logged
        (`snapshot.save_failed`, `store.release_failed`), not thrown into the daemon's exit
        path; an unreleased lease or session lock expires by itself.
        """
        if not self._entered:
            return self.policy is SyncPolicy.IN_MEMORY or not self._owed()
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        saved = False
        if self._handle is not None and not self._lock_lost:
            saved = await self.sync()
            if not saved and self._resets:  # the store is back but empty: write it all again
                saved = await self.sync()
        try:
            if self._handle is not None:
                await self.release_lock(self._handle)
        except Exception as exc:  # noqa: BLE001 - shutdown goes on whatever the backend says
            self._handle = None
            _log.warning("store.release_failed", store=self.store.url, reason=_reason(exc))
        finally:
            self._entered = False
            try:
                await self.store.__aexit__(None, None, None)
            except Exception as exc:  # noqa: BLE001 - as above
                _log.warning("store.release_failed", store=self.store.url, reason=_reason(exc))
        return saved

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def acquire_lock(self) -> LockHandle:
        """Take the store's writer lock (`start()` does this).

        Returns:
            The handle; `release_lock` takes it back.

        Raises:
            StoreLockedError: Another live writer holds it.
        """
        owner = LockOwner.for_this_process(self.writer_id, self._clock())
        try:
            self._handle = await self.store.acquire_lock(owner)
        except StoreLockedError as exc:
            holder = None if exc.owner is None else exc.owner.token
            if holder != self._refused_by or not self._refused:  # once per holder, not per try
                log_locked(self.store.url, exc.owner)
            self._refused, self._refused_by = True, holder
            raise
        self._lock_lost = False
        if not getattr(self.store, "shared", False):  # replicas hold leases, not this lock
            _log.info("store.lock_acquired", store=self.store.url, writer_id=self.writer_id)
        return self._handle

    async def release_lock(self, handle: LockHandle | None = None) -> None:
        """Give the writer lock back (`stop()` does this)."""
        handle = handle or self._handle
        if handle is None:
            return
        await self.store.release_lock(handle)
        if handle is self._handle:
            self._handle = None
        if not getattr(self.store, "shared", False):
            _log.info("store.lock_released", store=self.store.url, writer_id=self.writer_id)

    # --- load, attach, record ------------------------------------------------------------

    async def load(self) -> SystemState | None:
        """Restore the persisted state; corrupt data is set aside and reported.

        Returns:
            The restored state (the consistent good remainder when some rows were bad: run
            `reconcile` on it, as at every start), or None for an empty store, an all-corrupt
            one, or the `in-memory` policy.

        Raises:
            StoreUnavailableError: The backend cannot be read.
            RuntimeError: Called before `start()`.
        """
        if self.policy is SyncPolicy.IN_MEMORY:
            return None
        if self._handle is None:
            raise RuntimeError("StateManager.load() needs start() first (it takes the lock)")
        result = await self.store.load(repair=True)
        log_load(self.store.url, result, writer=True)
        self._epoch = max(self._epoch, result.epoch)
        if result.snapshot is None:
            return None
        self._epoch = max(self._epoch, result.snapshot.epoch)
        return result.snapshot.state

    def attach(self, state: SystemState, mesh: Mesh) -> None:
        """Hand over the live state to persist (again after a reload replaced it).

        The next write is a full save, which also deletes rows of anything no longer in it.

        Args:
            state: The state the daemon mutates in place from now on.
            mesh: Its topology (to know which models and pools a provider's events touch).

        Raises:
            ValueError: `state` was not reconciled to `mesh` (a model of no provider).
        """
        stray = stray_models(state, mesh)
        if stray:
            raise ValueError(
                f"state holds models {stray[:5]} of no provider in it: reconcile first"
            )
        self._state, self._mesh = state, mesh
        self._pending.owe_full_save()
        self._changed()

    def record(self, events: Iterable[Event]) -> None:
        """Note what one transition changed. Never blocks, never raises for the store's sake.

        Args:
            events: The events the core returned for the transition.
        """
        if self._mesh is None or self.policy is SyncPolicy.IN_MEMORY:
            return
        self._pending.add_events(self._mesh, events)
        if len(self._pending):
            self._changed()

    def touch(self, provider: str) -> None:
        """Note that a provider's row changed outside a transition (the canary's spend, which
        `sync()` must then carry). Never blocks, never raises."""
        if self._mesh is None or self.policy is SyncPolicy.IN_MEMORY:
            return
        self._pending.add_provider(provider)
        self._changed()

    def _changed(self) -> None:
        self._idle.clear()
        if self._asleep and self.policy is not SyncPolicy.SYNC_ON_BOUNDARY:  # it writes when asked
            self._wake.set()

    # --- writing -------------------------------------------------------------------------

    async def sync(self) -> bool:
        """Write the pending changes now (whatever the policy or backoff).

        Returns:
            True when the store holds the current state afterwards.
        """
        if self.policy is SyncPolicy.IN_MEMORY:
            return True
        async with self._io:
            return await self._flush()

    async def save(self) -> bool:
        """Write the whole state now (a full save).

        Returns:
            True on success.
        """
        if self.policy is SyncPolicy.IN_MEMORY or self._state is None:
            return self._state is None or self.policy is SyncPolicy.IN_MEMORY
        self._pending.owe_full_save()
        return await self.sync()

    async def wait_idle(self) -> None:
        """Wait until everything recorded so far is written (forever while the store is down)."""
        await self._idle.wait()

    def _owed(self) -> bool:
        return self._state is not None and self._pending.any()

    def _due(self, now: float) -> float | None:
        if self._lock_lost or not self._owed():
            return None
        if self.policy is SyncPolicy.IMMEDIATE:
            due = now if self._last_write is None else max(now, self._last_write + self.min_gap)
        elif self.policy is SyncPolicy.PERIODIC and self._next_tick is not None:
            due = self._next_tick
        else:
            return None
        return due if self._retry_at is None else max(due, self._retry_at)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            due = self._due(loop.time())
            timeout = None if due is None else max(0.0, due - loop.time())
            # A writer that waits for a due write (or is writing) sees what is owed when it
            # wakes anyway; waking it for every change cost a task and a timer per probe.
            self._asleep = due is None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._asleep = False
            self._wake.clear()
            now = loop.time()
            due = self._due(now)
            if self._stopping or due is None or due > now:
                continue
            if self.policy is SyncPolicy.PERIODIC:
                self._next_tick = now + self.sync_interval
            self._last_write = now
            await self.sync()

    async def _flush(self) -> bool:
        if self._lock_lost or self._handle is None:
            return False
        state, mesh = self._state, self._mesh
        if state is None or mesh is None or not self._owed():
            self._idle.set()
            return True
        if self._failures:
            try:
                await self.store.ping()  # no full serialization for a backend still down
            except Exception as exc:  # noqa: BLE001 - any backend fault is a failed attempt
                self._failed(exc, 0, unreachable=True)
                return False
        taken = self._pending.take(state, mesh)
        if not taken.rows and not taken.full:
            self._idle.set()
            return True
        epoch = self._epoch + 1
        envelope = Envelope(SCHEMA_VERSION, self._clock(), self.writer_id, epoch, state.timestamp)
        started = time.perf_counter()
        try:
            await self.store.write(make_batch(envelope, taken.rows, replace=taken.full))
        except LockLostError as exc:
            self.save_counts.failed += 1
            self._pending.failed(taken)
            self._lock_lost = True
            _log.error("store.lock_lost", store=self.store.url, reason=str(exc))
            return False
        except StoreResetError as exc:
            self._pending.failed(taken, lost_data=True)
            _log.warning("store.reset", store=self.store.url, reason=str(exc))
            self._resets += 1
            if self._resets > _RESETS_BEFORE_BACKOFF:  # resetting again and again: back off
                self._failed(exc, len(taken.rows))  # counts the failed attempt
            else:
                self.save_counts.failed += 1
                self._wake.set()  # rewrite at once: the backend is there, only empty
            return False
        except Exception as exc:  # noqa: BLE001 - a backend fault must never reach the caller
            self._pending.failed(taken)
            self._failed(exc, len(taken.rows))
            return False
        self._pending.succeeded(taken)
        self._succeeded(taken, envelope, time.perf_counter() - started)
        return True

    def _failed(self, exc: BaseException, rows: int, *, unreachable: bool = False) -> None:
        self.save_counts.failed += 1
        self._failures += 1
        if self._first_failure is None:
            self._first_failure = self._clock()
        delay = min(self._retry_max, self._retry_initial * 2 ** (self._failures - 1))
        if unreachable:  # only a ping until it answers: cheap, so often
            delay = min(delay, self._ping_every)
        self._retry_at = asyncio.get_running_loop().time() + delay
        self._last_error = _reason(exc)
        _log.warning(
            "snapshot.save_failed",
            store=self.store.url,
            reason=self._last_error,
            attempt=self._failures,
            retry_in_s=round(delay, 3),
            pending=max(rows, len(self._pending)),
        )

    def _succeeded(self, taken: Taken, envelope: Envelope, elapsed: float) -> None:
        epoch = envelope.epoch
        self.save_counts.ok += 1
        self._epoch = epoch
        self._last_sync = envelope.written_at
        if self._failures:
            _log.info(
                "snapshot.save_recovered",
                store=self.store.url,
                epoch=epoch,
                failed_attempts=self._failures,
                outage_s=round(self._last_sync - (self._first_failure or self._last_sync), 3),
            )
        self._failures, self._first_failure, self._retry_at = 0, None, None
        self._resets = 0
        self._last_error = None
        log = _log.info if taken.full else _log.debug
        log(
            "snapshot.saved",
            store=self.store.url,
            epoch=epoch,
            rows=len(taken.rows),
            full=taken.full,
            duration_ms=round(elapsed * 1000.0, 3),
        )
        if not self._owed():
            self._idle.set()

    # --- status ----------------------------------------------------------------------------

    @property
    def lock_lost(self) -> bool:
        """True once another writer took the store over: this manager writes no more.

        The daemon should treat it as fatal (exit and let its supervisor decide): its state is
        no longer the one being persisted.
        """
        return self._lock_lost

    @property
    def ready(self) -> bool:
        """True while the store is reachable and the last write succeeded (for `/readyz`)."""
        if self.policy is SyncPolicy.IN_MEMORY:
            return True
        return (
            self._entered
            and self._handle is not None
            and not self._lock_lost
            and (self._failures == 0)
        )

    def get_sync_status(self) -> SyncStatus:
        """Where persistence stands (ModelMesh's `getSyncStatus`)."""
        next_sync = None
        try:
            loop_now = asyncio.get_running_loop().time()
        except RuntimeError:  # called off the loop (a thread): no schedule to report
            loop_now = None
        if self._entered and loop_now is not None:
            due = self._due(loop_now)
            if due is not None:
                next_sync = self._clock() + max(0.0, due - loop_now)
        return SyncStatus(
            policy=str(self.policy),
            store=self.store.url,
            last_sync=self._last_sync,
            next_sync=next_sync,
            pending_changes=len(self._pending),
            full_save_pending=self._pending.full and self._state is not None,
            locked=self._handle is not None and not self._lock_lost,
            lock_owner=self._handle.owner if self._handle else None,
            epoch=self._epoch,
            ready=self.ready,
            last_error=self._last_error,
            consecutive_failures=self._failures,
        )


def _reason(exc: BaseException) -> str:
    """An exception as a log field (stores already keep credentials out of their messages)."""
    return f"{type(exc).__name__}: {exc}"
