"""The daemon's availability history: records each subject's state as it changes, saves it.

Subjects are `provider:NAME` and `model:ID`. After every batch of state events, and once a
`refresh_every` for everything (a state can change without an event: a maintenance window
opening), each subject's history state (`state.history`) is recorded if it changed. Changed
histories are compacted and saved to the history store beside the state store every
`flush_every`.

Each subject has exactly one writer, so a saved document is never overwritten by a stale copy:

* one daemon (the state store's lock holder) writes every subject;
* replicas (`share`): a provider's subjects are written by the replica holding its lease, the
  provider's and those of its models (a model has one provider in the mesh; the same upstream
  model at two providers is two models, and pools are not subjects). A replica that gains a
  provider first reads its stored documents and carries on from them; one that hands a provider
  over saves its pending changes before the lease is released; one that loses a lease (expired,
  refused) drops what it had not saved rather than write behind the new owner's back. The other
  subjects are re-read from the store every `refresh_every`, for the status page and metrics.

History is a report, never a health input: a history store that cannot be reached is logged and
retried, and the daemon runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

import structlog

from modelmesh_healthd.daemon.cancelling import cancel_and_wait
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
from modelmesh_healthd.state.subjects import (
    MODEL,
    PROVIDER,
    Subject,
    Subjects,
    model_subject,
    provider_subject,
    split_subject,
)
from modelmesh_healthd.storage import StoreError
from modelmesh_healthd.storage.history_store import HistoryStore, open_history_store

__all__ = [
    "EMPTY_HISTORY",
    "HOUR_S",
    "LOG_EVENTS",
    "HistoryRecorder",
    "Hours",
    "day_by_hour",
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
        "The stored history could not be read: at start (this daemon's records are added to "
        "it), or a replica's read (a gained provider is recorded once it is read; retried).",
    ),
    LogEventSpec(
        "history.save_failed",
        "warning",
        ("store", "reason", "pending"),
        "The history could not be saved; the changes are kept and saved again later.",
    ),
)


_T = TypeVar("_T")

HOUR_S = 3600.0
_LOOP_STOP_S = 2.0
"""Seconds a stop waits at most for the saving loop to end before its own final save."""


def _windows_of(history: History, now: float) -> Mapping[str, Availability]:
    return {label: availability(history, now, secs) for label, secs in WINDOWS.items()}


EMPTY_HISTORY = History()
"""The history of a subject with no record yet (immutable, so one serves every subject)."""

Hours = tuple[tuple[float, Availability], ...]
"""24 hours, oldest first: each one's start and `Availability`."""


def day_by_hour(history: History, now: float) -> Hours:
    """The 24 hours before `now`, oldest first."""
    ends = [now - HOUR_S * (23 - i) for i in range(24)]
    return tuple((end - HOUR_S, availability(history, end, HOUR_S)) for end in ends)


class HistoryRecorder:
    """Records and keeps the availability history of one daemon's providers and models.

    Args:
        store_url: The state store's URL (the history lives beside it).
        maintenance: Whether a provider is held for maintenance now (an override, a window).
        flush_every: Seconds between saves of what changed.
        refresh_every: Seconds between re-reading every subject's state (and, for a replica,
            the other replicas' subjects from the store).
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
        self.histories: Subjects[History] = Subjects()
        """Subject -> its history (the store's, plus what this daemon recorded since), kept
        under the mesh's own name strings (`state.subjects`)."""
        self._dirty: set[Subject] = set()
        self._same: tuple[float, dict[tuple[int, str], tuple[History, History]]] = (0.0, {})
        """The records of one refresh: (history before, state) -> (it, history after). Subjects
        with the same history that change alike at one instant share the result (histories are
        immutable): the whole fleet at start-up, and a model that follows its provider."""
        self._windows: dict[str, tuple[float, History, Mapping[str, Availability]]] = {}
        self._hours: dict[str, tuple[float, History, Hours]] = {}
        self._task: asyncio.Task[None] | None = None
        self._owns: Callable[[str], bool] | None = None
        """A replica's lease test (see `share`); None: this daemon writes every subject."""
        self._held: dict[str, set[Subject]] = {}
        """A replica's providers whose stored history it adopted -> the subjects it wrote."""
        self._gaining: set[str] = set()
        """Providers this replica owns now whose stored history it has not read yet."""
        self._wake = asyncio.Event()
        self._saving = asyncio.Lock()
        """Held by each save: a hand-over waits for one in flight before the lease goes."""

    def share(self, owns: Callable[[str], bool]) -> None:
        """Record only the providers `owns` says this replica holds, and their models.

        Call before `start`. See the module docstring for the one-writer rule.
        """
        self._owns = owns

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
            self._adopt_names()
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

    def _adopt_names(self) -> None:
        """Key what was loaded by the mesh's name strings, not the parser's copies."""
        mesh = self._mesh()
        for name in mesh.providers:
            self.histories.adopt((PROVIDER, name))
        for model_id in mesh.model_provider:
            self.histories.adopt((MODEL, model_id))

    def observe(self, events: list[Event]) -> None:
        """An event sink: record the state of every provider the events name, and its models."""
        if self._store is None:
            return
        if not events:
            return
        first = getattr(events[0], "provider", None)
        if isinstance(first, str) and all(getattr(e, "provider", None) == first for e in events):
            # A probe's batch names its one provider: skip building a set per probe.
            self.refresh((first,))
            return
        names = {getattr(e, "provider", None) for e in events}
        self.refresh(n for n in names if isinstance(n, str))

    def refresh(self, providers: Iterable[str] | None = None) -> None:
        """Record the current state of `providers` (all when None) and their models."""
        now, state, mesh, policy = self._clock(), self._state(), self._mesh(), self._policy()
        for name in mesh.providers if providers is None else providers:
            if not self._writes(name):
                continue
            ps = state.providers.get(name)
            if ps is None:  # removed by a reload: nobody watches it any more
                if self.histories.find((PROVIDER, name)) is not None:
                    self._record((PROVIDER, name), now, UNKNOWN, name)
                continue
            pstate = provider_history_state(ps, policy, maintenance=self._maintenance(name))
            self._record((PROVIDER, name), now, pstate, name)
            for model_id in mesh.provider_models.get(name, ()):
                ms = state.models.get(model_id)
                if ms is not None:
                    value = model_history_state(ms, pstate)
                    self._record((MODEL, model_id), now, value, name)
        self._same = (0.0, {})  # the replaced histories it holds are not kept past the refresh

    def _history(self, subject: Subject) -> History:
        found = self.histories.find(subject)
        return EMPTY_HISTORY if found is None else found

    def _record(
        self, subject: Subject, now: float, value: str, provider: str | None = None
    ) -> None:
        before = self._history(subject)
        if provider is not None and provider in self._held:
            self._held[provider].add(subject)
        entries = before.entries
        if entries and entries[-1][1] == value:
            return  # unchanged, as `record` would say: the usual case, once per probe
        if self._same[0] != now:
            self._same = (now, {})
        same = self._same[1]
        hit = same.get((id(before), value))
        if hit is not None and hit[0] is before:  # `before` is held there: its id is not reused
            after = hit[1]
        else:
            after = record(before, now, value)
            if after is not before:
                same[(id(before), value)] = (before, after)
        if after is not before:
            self.histories.put(subject, after)
            self._dirty.add(subject)

    # --- replicas: one writer per subject ------------------------------------------------

    def _writes(self, provider: str) -> bool:
        """Whether this daemon records `provider` now; notes gains and losses of a replica."""
        if self._owns is None:
            return True
        if not self._owns(provider):
            if provider in self._held:
                self._forget(provider)  # its lease went: the new owner writes from now on
            self._gaining.discard(provider)
            return False
        if provider in self._held:
            return True
        if provider not in self._gaining:
            self._gaining.add(provider)
            self._wake.set()  # read its stored history first, then record
        return False

    def _forget(self, provider: str) -> set[Subject]:
        """Stop writing `provider`'s subjects; returns those with unsaved changes."""
        subjects = self._held.pop(provider, set())
        pending = subjects & self._dirty
        self._dirty -= subjects
        return pending

    def _notice_ownership(self) -> None:
        mesh = self._mesh()
        for name in [*mesh.providers, *(p for p in self._held if p not in mesh.provider_models)]:
            self._writes(name)

    async def sync(self, *, others: bool = False) -> None:
        """A replica's catch-up with the store (nothing for a single daemon).

        Forgets providers whose lease went, reads the stored history of those gained and
        records them from it, and with `others` takes every subject it does not write as stored.
        """
        if self._owns is None:
            return
        self._notice_ownership()
        if self._gaining or others:
            await self._read_shared()

    async def _read_shared(self) -> None:
        if self._store is None:
            return
        gaining, self._gaining = self._gaining, set()
        try:
            loaded = await self._store.load()
        except StoreError as exc:
            self._gaining |= gaining  # nothing is recorded for them until their history is read
            _log.warning("history.load_failed", store=self._store.url, reason=str(exc))
            return
        assert self._owns is not None
        adopted = [p for p in gaining if self._owns(p) and p not in self._held]
        ours = set().union(*self._held.values())  # written here since adopted: newer than stored
        for subject, history in loaded.histories.items():
            key = split_subject(subject)
            if key not in ours:
                self.histories.put(key, history)
        for name in adopted:
            self._held[name] = set()
        self.refresh(adopted)

    async def hand_over(self, providers: Iterable[str]) -> None:
        """Save `providers`' pending changes before their leases are released to another replica.

        The new owner reads the stored history when it claims the lease, which the release
        allows only after this save: what this replica recorded is not lost or written late.
        """
        pending: set[Subject] = set()
        for name in providers:
            self._gaining.discard(name)
            pending |= self._forget(name)
        async with self._saving:  # a save of them already in flight lands first
            if self._store is None or not pending:
                return
            now = self._clock()
            batch: Subjects[History] = Subjects()
            for subject in pending:
                batch.put(subject, compact(self._history(subject), now))
            self.histories.merge(batch)
            try:
                await self._store.save(batch)
            except StoreError as exc:
                _log.warning(
                    "history.save_failed",
                    store=self._store.url,
                    reason=str(exc),
                    pending=len(batch),
                )

    def windows(
        self, subject: str, now: float, *, max_age: float = 0.0
    ) -> Mapping[str, Availability] | None:
        """The subject's availability over each of `WINDOWS` (None: no such subject).

        Args:
            max_age: An answer computed at most this many seconds ago for an unchanged history
                may be given again (metrics scrapes of a large fleet).
        """
        return self._cached(self._windows, subject, now, max_age, _windows_of)

    def hours(self, subject: str, now: float, *, max_age: float = 0.0) -> Hours | None:
        """The subject's last 24 hours (`day_by_hour`: the status page's bar); None: no such
        subject. `max_age` as in `windows`."""
        return self._cached(self._hours, subject, now, max_age, day_by_hour)

    def _cached(
        self,
        cache: dict[str, tuple[float, History, _T]],
        subject: str,
        now: float,
        max_age: float,
        compute: Callable[[History, float], _T],
    ) -> _T | None:
        # A new transition replaces the history object, so it is never hidden by the cache;
        # an unchanged history's answer moves by at most `max_age` of a long window.
        history = self.histories.get(subject)
        if history is None:
            return None
        cached = cache.get(subject)
        if cached is not None and cached[1] is history and now - cached[0] <= max_age:
            return cached[2]
        answer = compute(history, now)
        if max_age > 0:
            cache[subject] = (now, history, answer)
        return answer

    async def flush(self) -> bool:
        """Compact and save what changed since the last save.

        Returns:
            False if the store refused (the changes are kept for the next attempt).
        """
        if self._owns is not None:
            self._notice_ownership()  # a lease that went: its unsaved changes are dropped
        async with self._saving:
            if self._store is None or not self._dirty:
                return True
            now = self._clock()
            taken, self._dirty = self._dirty, set()
            batch: Subjects[History] = Subjects()
            for subject in taken:
                history = compact(self._history(subject), now)
                self.histories.put(subject, history)
                batch.put(subject, history)
            try:
                await self._store.save(batch)
            except StoreError as exc:
                self._dirty |= taken & self._mine(taken)  # not those handed over meanwhile
                _log.warning(
                    "history.save_failed",
                    store=self._store.url,
                    reason=str(exc),
                    pending=len(taken),
                )
                return False
            return True

    def _mine(self, subjects: Iterable[Subject]) -> set[Subject]:
        """Those of `subjects` this daemon writes."""
        if self._owns is None:
            return set(subjects)
        return set(subjects) & set().union(*self._held.values())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        refreshed = loop.time()
        while self._store is not None:  # a loop that outlived `stop` ends at its next turn
            wake = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait((wake,), timeout=self._flush_every)
            finally:
                wake.cancel()
            self._wake.clear()
            due = loop.time() - refreshed >= self._refresh_every
            await self.sync(others=due)
            if due:
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
            # Cancelled again while it carries on (a store call that swallowed the
            # cancellation, see `cancelling`), and not waited for past a bound: the final save
            # below is what matters, and saves take turns (`_saving`) with one still running.
            await cancel_and_wait([self._task], _LOOP_STOP_S)
            self._task = None
        if save:
            now = self._clock()
            if self._owns is not None:
                self._notice_ownership()
            for subject in self._mine(self.histories.keys_named()):
                self._record(subject, now, UNKNOWN)
            await self.flush()
        store, self._store = self._store, None
        with contextlib.suppress(Exception):
            await store.__aexit__(None, None, None)
