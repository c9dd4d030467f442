"""The daemon's availability history: records each subject's state as it changes, saves it.

Subjects are `provider:NAME` and `model:ID`. After every batch of state events, and once a
`refresh_every` for everything (a state can change without an event: a maintenance window
opening), each subject's history state (`state.history`) is recorded if it changed. Changed
histories are compacted and saved to the history store beside the state store every
`flush_every`; the writer holding the state store's lock is the only one recording, so replicas
sharing a store share one log.

History is a report, never a health input: a history store that cannot be reached is logged and
retried, and the daemon runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import structlog

from modelmesh_healthd.state import Event, HealthPolicy, Mesh, SystemState
from modelmesh_healthd.state.events import LogEventSpec
from modelmesh_healthd.state.history import (
    UNKNOWN,
    WINDOWS,
    Availability,
    History,
    availability,
    compact,
    model_history_state,
    provider_history_state,
    record,
)
from modelmesh_healthd.storage import StoreError
from modelmesh_healthd.storage.history_store import HistoryStore, open_history_store

__all__ = [
    "LOG_EVENTS",
    "HistoryRecorder",
    "HistorySource",
    "history_body",
    "model_subject",
    "provider_subject",
]

_log = structlog.get_logger("modelmesh_healthd.daemon")

LOG_EVENTS: tuple[LogEventSpec, ...] = (
    LogEventSpec(
        "history.loaded",
        "info",
        ("store", "subjects", "skipped"),
        "The availability history was read from the store at start.",
    ),
    LogEventSpec(
        "history.load_failed",
        "warning",
        ("store", "reason"),
        "The stored history could not be read at start; this daemon's records are added to it.",
    ),
    LogEventSpec(
        "history.save_failed",
        "warning",
        ("store", "reason", "pending"),
        "The history could not be saved; the changes are kept and saved again later.",
    ),
)


def provider_subject(name: str) -> str:
    """The history subject of a provider."""
    return f"provider:{name}"


def model_subject(model_id: str) -> str:
    """The history subject of a model."""
    return f"model:{model_id}"


class HistoryRecorder:
    """Records and keeps the availability history of one daemon's providers and models.

    Args:
        store_url: The state store's URL (the history lives beside it).
        maintenance: Whether a provider is held for maintenance now (an override, a window).
        flush_every: Seconds between saves of what changed.
        refresh_every: Seconds between re-reading every subject's state.
    """

    def __init__(
        self,
        store_url: str,
        *,
        maintenance: Callable[[str], bool] | None = None,
        flush_every: float = 5.0,
        refresh_every: float = 30.0,
    ) -> None:
        self._url = store_url
        self._maintenance = maintenance or (lambda _name: False)
        self._flush_every, self._refresh_every = flush_every, refresh_every
        self._store: HistoryStore | None = None
        self.histories: dict[str, History] = {}
        """Subject -> its history (the store's, plus what this daemon recorded since)."""
        self._dirty: set[str] = set()
        self._windows: dict[str, tuple[float, History, Mapping[str, Availability]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(
        self,
        state: Callable[[], SystemState],
        mesh: Callable[[], Mesh],
        policy: Callable[[], HealthPolicy],
        clock: Callable[[], float],
    ) -> None:
        """Load the stored history, record the state now, and start saving periodically.

        Args:
            state, mesh, policy: Read the daemon's current state, topology and policy.
            clock: Unix time.
        """
        self._state, self._mesh, self._policy, self._clock = state, mesh, policy, clock
        store = open_history_store(self._url)
        await store.__aenter__()
        self._store = store
        try:
            loaded = await store.load()
            self.histories.update(loaded.histories)
            _log.info(
                "history.loaded",
                store=store.url,
                subjects=len(loaded.histories),
                skipped=sorted(loaded.skipped),
            )
        except StoreError as exc:
            # Whatever is stored stays there: this daemon's records are merged on save.
            _log.warning("history.load_failed", store=store.url, reason=str(exc))
        self.refresh()
        self._task = asyncio.create_task(self._run(), name="history")

    def observe(self, events: list[Event]) -> None:
        """An event sink: record the state of every provider the events name, and its models."""
        if self._store is None:
            return
        names = {getattr(e, "provider", None) for e in events}
        self.refresh(n for n in names if isinstance(n, str))

    def refresh(self, providers: Iterable[str] | None = None) -> None:
        """Record the current state of `providers` (all when None) and their models."""
        now, state, mesh, policy = self._clock(), self._state(), self._mesh(), self._policy()
        for name in mesh.providers if providers is None else providers:
            ps = state.providers.get(name)
            if ps is None:  # removed by a reload: nobody watches it any more
                if provider_subject(name) in self.histories:
                    self._record(provider_subject(name), now, UNKNOWN)
                continue
            pstate = provider_history_state(ps, policy, maintenance=self._maintenance(name))
            self._record(provider_subject(name), now, pstate)
            for model_id in mesh.provider_models.get(name, ()):
                ms = state.models.get(model_id)
                if ms is not None:
                    self._record(model_subject(model_id), now, model_history_state(ms, pstate))

    def _record(self, subject: str, now: float, value: str) -> None:
        before = self.histories.get(subject, History())
        after = record(before, now, value)
        if after is not before:
            self.histories[subject] = after
            self._dirty.add(subject)

    def windows(
        self, subject: str, now: float, *, max_age: float = 0.0
    ) -> Mapping[str, Availability] | None:
        """The subject's availability over each of `WINDOWS` (None: no such subject).

        Args:
            max_age: An answer computed at most this many seconds ago for an unchanged history
                may be given again (metrics scrapes of a large fleet).
        """
        history = self.histories.get(subject)
        if history is None:
            return None
        cached = self._windows.get(subject)
        if cached is not None and cached[1] is history and now - cached[0] <= max_age:
            return cached[2]
        answer = {label: availability(history, now, secs) for label, secs in WINDOWS.items()}
        if max_age > 0:
            self._windows[subject] = (now, history, answer)
        return answer

    async def flush(self) -> bool:
        """Compact and save what changed since the last save.

        Returns:
            False if the store refused (the changes are kept for the next attempt).
        """
        if self._store is None or not self._dirty:
            return True
        now = self._clock()
        taken, self._dirty = self._dirty, set()
        batch = {}
        for subject in taken:
            self.histories[subject] = compact(self.histories[subject], now)
            batch[subject] = self.histories[subject]
        try:
            await self._store.save(batch)
        except StoreError as exc:
            self._dirty |= taken
            _log.warning(
                "history.save_failed", store=self._store.url, reason=str(exc), pending=len(taken)
            )
            return False
        return True

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        refreshed = loop.time()
        while True:
            await asyncio.sleep(self._flush_every)
            if loop.time() - refreshed >= self._refresh_every:
                refreshed = loop.time()
                self.refresh()
            await self.flush()

    async def stop(self, *, save: bool = True) -> None:
        """Record that nobody watches from now on (`unknown`), save, close the store.

        Args:
            save: False when this daemon lost the store to another writer: the log is the new
                writer's now, and this one must not write into it.
        """
        if self._store is None:
            return
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if save:
            now = self._clock()
            for subject in list(self.histories):
                self._record(subject, now, UNKNOWN)
            await self.flush()
        store, self._store = self._store, None
        with contextlib.suppress(Exception):
            await store.__aexit__(None, None, None)


class HistorySource(Protocol):
    """What `history_body` reads: a daemon view has all of it."""

    @property
    def history(self) -> HistoryRecorder: ...

    @property
    def mesh(self) -> Mesh: ...

    def wall_clock(self) -> float: ...


def _subject_body(recorder: HistoryRecorder, subject: str, now: float) -> dict[str, Any]:
    history = recorder.histories.get(subject, History())
    windows = recorder.windows(subject, now) or {}
    day = now - WINDOWS["24h"]
    return {
        "current": history.current,
        "windows": {label: avail.to_dict() for label, avail in windows.items()},
        "changes_24h": [{"at": at, "state": s} for at, s in history.entries if at >= day],
    }


def history_body(daemon: HistorySource, provider: str) -> dict[str, Any]:
    """The JSON answer of `/v1/providers/{name}/history`: the provider's and its models'."""
    now = daemon.wall_clock()
    recorder = daemon.history
    models = daemon.mesh.provider_models.get(provider, ())
    return {
        "provider": provider,
        "generated_at": now,
        "rules": "ratio = (up + degraded) / (up + degraded + down); maintenance and unknown "
        "excluded; a rate limit is up; time before the first probe is unknown",
        **_subject_body(recorder, provider_subject(provider), now),
        "models": {m: _subject_body(recorder, model_subject(m), now) for m in models},
    }
