"""The daemon: startup -> run -> shutdown, around the scheduler and the pure health core.

Signal handlers only set flags (uvicorn's pattern): SIGTERM/SIGINT request a graceful stop, a
second SIGINT forces it, SIGHUP requests a reload. The main loop acts on the flags.

One probe's path is `probe -> observe -> publish -> next due`: every health decision (the
connectivity guard, the transition, the next phase) is the pure core's (`state.observe`); the
daemon only does the I/O around it.

This module is longer than most on purpose: `Daemon` is the one owner of the daemon's mutable
runtime (core, providers, client, scheduler, store), and startup, one probe's result, reload and
shutdown each change all of it. The parts that do not need that ownership live beside it:
timing, the scheduler, probe set-up, reload diffing, supervision (which sees the daemon only
through `view.DaemonView`), metrics, memory; and each concern's wiring (`canary_hooks`,
`overrides_hooks`, `history_hooks`, `coordination_hooks`, `quorum_hooks`), which drives it
through `runtime.DaemonRuntime`.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import time
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

import structlog

from modelmesh_healthd import __version__
from modelmesh_healthd.config import Config, ConfigError, load_config_in_thread
from modelmesh_healthd.daemon.canary_hooks import canary_loop, keep_spend
from modelmesh_healthd.daemon.cancelling import cancel_and_wait
from modelmesh_healthd.daemon.coordination_hooks import store_to_write
from modelmesh_healthd.daemon.history_hooks import history_recorder, start_history, stop_history
from modelmesh_healthd.daemon.logs import configure_logging, log_enabled
from modelmesh_healthd.daemon.memory import (
    release_after_first_save,
    release_memory,
    trim_periodically,
)
from modelmesh_healthd.daemon.overrides_hooks import (
    end_override,
    expire_overrides,
    expire_periodically,
    hold,
    overrides_now,
)
from modelmesh_healthd.daemon.probe_setup import client_options, probe_target
from modelmesh_healthd.daemon.quorum_hooks import (
    cast_vote,
    follow_quorum,
    observe_as_site,
    quorum_of,
)
from modelmesh_healthd.daemon.reload import (
    Topology,
    carried_over,
    diff_fleet,
    restart_required,
)
from modelmesh_healthd.daemon.replica_options import STANDBY_POLL, log_standby
from modelmesh_healthd.daemon.scheduler import START_GRID, Scheduler
from modelmesh_healthd.daemon.supervision import Supervision
from modelmesh_healthd.daemon.timing import Timing, due_after, first_due
from modelmesh_healthd.probes import ProbeTarget, build_client, probe
from modelmesh_healthd.probes.canary import DaySpend
from modelmesh_healthd.state import (
    ConnectivityGuard,
    Event,
    HealthCore,
    HealthPolicy,
    Mesh,
    Phase,
    SystemState,
    phase_of,
    reconcile,
)
from modelmesh_healthd.state.overrides import Override
from modelmesh_healthd.storage import (
    WRITE_TICK,
    StateManager,
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
    default_store_url,
    redact_url,
)

if TYPE_CHECKING:
    import httpx

    from modelmesh_healthd.daemon.coordination import Coordinator
    from modelmesh_healthd.daemon.history import HistoryRecorder
    from modelmesh_healthd.daemon.runtime import DaemonRuntime

__all__ = ["Daemon"]

_log = structlog.get_logger("modelmesh_healthd.daemon")

EventSink = Callable[[list[Event]], None]


class Daemon:
    """The long-running health daemon.

    Args:
        config: The validated configuration (its `source` is re-read on reload).
        store_url: Overrides `storage.url`.
        environ: Environment for `${VAR}` on reload and for the default store location.
        wall_clock: Unix time, for the state's timestamps.
        rng: Randomness for jitter and the initial stagger.
        fresh: Start from a fresh state instead of the stored one (which the first save
            replaces); the store's lock is taken all the same.
    """

    def __init__(
        self,
        config: Config,
        *,
        store_url: str | None = None,
        environ: Mapping[str, str] | None = None,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        fresh: bool = False,
    ) -> None:
        self.config = config
        self.fresh = fresh
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.store_url = store_url or config.storage.url or default_store_url(self.environ)
        self.wall_clock = wall_clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.writer_id = f"{socket.gethostname()}:{os.getpid()}:{config.daemon.instance}"
        mesh = config.mesh()
        self.core = HealthCore(
            mesh,
            SystemState(),
            config.policy(),
            ConnectivityGuard(
                enabled=config.daemon.network_guard.enabled,
                min_providers=config.daemon.network_guard.min_providers,
            ),
        )
        """The pure core's state and memory: every health decision is made on it."""
        self.core.windows = config.windows()
        self.core.quorum = quorum_of(config)
        self.providers: dict[str, Timing] = {}
        """What the daemon keeps per probed provider besides its ProviderState: its schedule.
        Not its ProbeTarget: that is built from the configuration for each probe (`_target`).
        The timings are shared objects, so this is one dictionary entry per provider."""
        self._reloads = 0
        """Reloads applied to the fleet so far (see `_stale_since`)."""
        self._stale_since: dict[str, int] = {}
        """Providers whose probe was in flight when a reload changed their target or added them
        again -> that reload's number: a probe started before it has a stale result. Only names
        with a probe in flight are noted, so a fleet-wide mark per provider is not kept."""
        self.sinks: list[EventSink] = []
        """Extra consumers of every batch of state events (metrics)."""
        self.ready = False
        """State restored and the scheduler running (for /readyz and READY=1)."""
        self.exit_code = 0
        """What `run()` returns after a stop (1 when the store was taken over)."""
        self.manager: StateManager | None = None
        self.scheduler: Scheduler | None = None
        self.coordinator: Coordinator | None = None
        """Set when the store URL asks for replicas: then only leased providers are probed."""
        self.client: httpx.AsyncClient | None = None
        self._stop = asyncio.Event()
        self._forced = asyncio.Event()
        self._reload = False
        self._force = False
        self._stop_signal: str | None = None
        self._probes_since_summary = 0
        self._last_evidence_request = 0.0
        self._background: set[asyncio.Task[Any]] = set()
        self.supervision = Supervision(self, self.environ)
        """Admin endpoint, metrics, sd_notify, watchdog, heartbeat (the lifecycle hooks)."""
        self.canary = canary_loop(self)
        """The optional canary (sends nothing unless the configuration turns it on)."""
        self.sinks.extend(self.supervision.sinks)
        self.history: HistoryRecorder = history_recorder(self)
        """Availability history of every provider and model (recorded while running)."""
        self.sinks.append(self.history.observe)

    # --- the core, as observers read it (see view.DaemonView) ---------------

    @property
    def mesh(self) -> Mesh:
        """The topology the state is reconciled to."""
        return self.core.mesh

    @property
    def state(self) -> SystemState:
        """The health of every provider, model and pool."""
        return self.core.state

    @property
    def policy(self) -> HealthPolicy:
        """Thresholds and outcome rules."""
        return self.core.policy

    @property
    def guard(self) -> ConnectivityGuard:
        """The connectivity guard (the core's)."""
        return self.core.guard

    @property
    def canary_ledgers(self) -> Mapping[str, DaySpend]:
        """Each canary provider's spend today (empty while no canary is on)."""
        return self.canary.spends()

    @property
    def probed(self) -> Collection[str]:
        """The providers being probed."""
        return self.providers.keys()

    # --- flags (signal handlers call only these) --------------------------

    def request_stop(self, signame: str = "request", *, force: bool = False) -> None:
        """Ask for a graceful stop; a second request with `force` skips the drain."""
        if self._stop_signal is not None and signame == "SIGINT":
            force = True  # the second Ctrl-C
        self._force = self._force or force
        if self._force:
            self._forced.set()
        self._stop_signal = self._stop_signal or signame
        self._stop.set()

    def request_reload(self) -> None:
        """Ask for the configuration to be re-read (applied by the main loop)."""
        self._reload = True
        self._stop.set()  # wakes the main loop, which tells a reload from a stop

    # --- lifecycle --------------------------------------------------------

    async def run(self) -> int:
        """Start, run until stopped, shut down.

        Returns:
            The process exit code: 0 after a clean stop, 1 if startup failed.
        """
        loop = asyncio.get_running_loop()
        installed = self._install_signals(loop)
        try:
            if not await self._startup():
                await self.supervision.close()
                return 1
            try:
                await self._main_loop()
            except asyncio.CancelledError:
                # Cancelled by what embeds it: stop as a forced stop would (no drain), so the
                # last state is still written and the store's lock and connections released,
                # then let the cancellation go on.
                self.request_stop("cancelled", force=True)
                await self._shutdown()
                raise
            await self._shutdown()
            return self.exit_code
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> list[int]:
        handlers = {
            signal.SIGTERM: lambda: self.request_stop("SIGTERM"),
            signal.SIGINT: lambda: self.request_stop("SIGINT"),
            signal.SIGHUP: self.request_reload,
        }
        installed: list[int] = []
        for sig, handler in handlers.items():
            try:
                loop.add_signal_handler(sig, handler)
            except (RuntimeError, NotImplementedError, ValueError):
                continue  # not the main thread (embedded use): the caller drives the flags
            installed.append(sig)
        return installed

    async def _startup(self) -> bool:
        # The store's lock comes first: a second daemon started with the same configuration
        # must be told who holds the store, not that the admin port is taken.
        try:
            store, self.coordinator = store_to_write(self, self.store_url, self.history)
        except StoreError as exc:
            _log.error("daemon.startup_failed", reason=str(exc))
            return False
        manager = StateManager(
            store,
            policy=self.config.storage.sync_policy,
            sync_interval=self.config.storage.sync_interval,
            writer_id=self.writer_id,
            min_gap=WRITE_TICK,  # immediate: one transaction per tick, not one per change
        )
        opened, restored = await self._open_store(manager)
        stored = restored
        if self.fresh:
            restored = None
        if not opened:
            await _quietly(manager.stop())
            return False
        if not await self.supervision.start_admin():
            await _quietly(manager.stop())  # release the lock: this daemon will not run
            return False
        self.manager = manager
        now = self.wall_clock()
        self.core.state, events = reconcile(self.mesh, restored, now, policy=self.policy)
        if restored is None:
            keep_spend(self.state, stored)
        self.core.reindex()  # the restored overrides: the tick ends them on time
        manager.attach(self.state, self.mesh)
        self._publish(events)
        expire_overrides(self)  # those that ended while the daemon was not running
        await start_history(self)

        self.client = build_client(client_options(self.config))
        self.scheduler = Scheduler(
            self._job,
            concurrency=self.config.daemon.concurrency,
            on_start=self.supervision.metrics.on_probe_start,
            slack=START_GRID,
        )
        if self.coordinator is not None:
            await self.coordinator.start()  # this replica's share, before any probe
        self._apply_config()
        if self.coordinator is not None:
            self.coordinator.schedule_owned()
            self._spawn(self.coordinator.run(), "replica")
        self._spawn(self.scheduler.run(), "scheduler")
        self._spawn(self.canary.run(), "canary")
        self._spawn(self._watch_lock(manager), "lock-watch")
        self._spawn(release_after_first_save(manager), "memory-after-first-save")
        first_round = max((t.interval for t in self.providers.values()), default=60.0)
        self._spawn(trim_periodically(first=min(first_round, 60.0)), "memory-trim")
        self._spawn(expire_periodically(self), "override-expiry")
        if self.config.daemon.summary_interval > 0:
            self._spawn(self._summaries(self.config.daemon.summary_interval), "summary")
        self.ready = True
        release_memory()
        _log.info(
            "daemon.started",
            providers=len(self.mesh.providers),
            models=len(self.mesh.model_provider),
            pools=len(self.mesh.pools),
            store=redact_url(self.store_url),
            sync_policy=self.config.storage.sync_policy,
            restored=restored is not None,
            version=__version__,
        )
        self.supervision.started()
        return True

    async def _open_store(self, manager: StateManager) -> tuple[bool, SystemState | None]:
        """Take the store's lock and load its state, waiting while the backend is down.

        Returns:
            Whether the daemon may run (False: another writer holds the lock, a bad URL, or a
            stop while waiting), and the restored state (None: nothing stored).
        """
        wait = 1.0
        while True:
            try:
                await manager.start()
                return True, await manager.load()
            except StoreLockedError as exc:
                # Another daemon writes this store: wait as its standby, and take over as
                # soon as its lock is free (at once after its death for a file lock, within
                # one lease for Redis/PostgreSQL), instead of exiting into a restart loop.
                log_standby(manager.store.url, exc.owner, STANDBY_POLL)
                self.supervision.waiting_for_store(STANDBY_POLL)
                if await self._stopped_within(STANDBY_POLL):
                    _log.error("daemon.startup_failed", reason="stopped while on standby")
                    return False, None
                continue
            except StoreUnavailableError as exc:
                _log.warning(
                    "daemon.store_unavailable",
                    store=redact_url(self.store_url),
                    reason=str(exc),
                    retry_in_s=wait,
                )
                self.supervision.waiting_for_store(wait)
            except StoreError as exc:
                _log.error("daemon.startup_failed", reason=str(exc))
                return False, None
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=wait)
            except TimeoutError:
                wait = min(wait * 2.0, 30.0)
                continue
            _log.error("daemon.startup_failed", reason="stopped while waiting for the store")
            return False, None

    async def _stopped_within(self, seconds: float) -> bool:
        """Wait up to `seconds`; True if a stop was requested meanwhile."""
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    async def _watch_lock(self, manager: StateManager) -> None:
        """Stop (exit 1) if another writer takes the store over: we must not keep writing."""
        while not manager.lock_lost:  # noqa: ASYNC110 - the manager offers a flag, not an event
            await asyncio.sleep(1.0)
        _log.error("daemon.lock_lost", store=redact_url(self.store_url))
        self.exit_code = 1
        self.request_stop("store lock lost")

    async def _main_loop(self) -> None:
        while True:
            await self._stop.wait()
            if self._reload:
                self._reload = False
                if self._stop_signal is None:
                    self._stop.clear()
                self.supervision.reloading()
                await self.reload()
                self.supervision.reloaded()
            if self._stop_signal is not None:
                return

    async def _shutdown(self) -> None:
        self.ready = False
        await self.supervision.stopping()
        grace = self.config.daemon.drain_timeout
        _log.info("daemon.stopping", signal=self._stop_signal, drain_timeout_s=grace)
        cancelled = 0
        if self.scheduler is not None:
            self.scheduler.stop()
            cancelled = await self._drain(self.scheduler, grace)
        saved = False
        budget = 2.0 if self._force else max(grace, 5.0)
        # Bounded and cancelled again: a round whose store call swallowed the cancellation
        # (asyncio.wait_for on Python 3.11, see `cancelling`) would keep it waiting for ever.
        left = await cancel_and_wait(list(self._background), budget)
        if left:
            _log.warning("daemon.tasks_left_running", tasks=sorted(t.get_name() for t in left))
        await stop_history(self, budget)
        if self.manager is not None:
            try:
                async with asyncio.timeout(budget):
                    saved = await self.manager.sync()
                    if self.coordinator is not None:
                        await self.coordinator.stop()  # hand the leases over at once
                    # The stop's own final write may be the one that lands (the store came
                    # back meanwhile): `saved` says what the store holds at the end.
                    saved = await self.manager.stop()
            except TimeoutError:
                _log.error(
                    "daemon.save_timeout", store=redact_url(self.store_url), timeout_s=budget
                )
        if self.client is not None:
            await self.client.aclose()
        await self.supervision.close()
        _log.info(
            "daemon.stopped", reason=self._stop_signal, cancelled_probes=cancelled, saved=saved
        )

    async def _drain(self, scheduler: Scheduler, grace: float) -> int:
        """Let in-flight probes finish within `grace`; a forced stop cuts the wait short."""
        drain = asyncio.create_task(scheduler.drain(grace))
        forced = asyncio.create_task(self._forced.wait())
        await asyncio.wait({drain, forced}, return_when=asyncio.FIRST_COMPLETED)
        forced.cancel()
        if not drain.done():
            _log.warning("daemon.stop_forced", in_flight=scheduler.in_flight)
            scheduler.cancel_running()
        return await drain

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- one probe --------------------------------------------------------

    async def _job(self, name: str, due: float) -> float | None:
        timing = self.providers.get(name)
        client = self.client
        if timing is None or client is None or not self.owns(name):
            return None
        if self.coordinator is not None:
            self.coordinator.probing(name, self.wall_clock())
        started_after = self._reloads
        result = await probe(client, self._target(name, timing.timeout))
        if not self.owns(name):
            return None  # its lease went while the probe ran: the new owner records it
        assert self.scheduler is not None
        timing = self.providers.get(name)
        stale = self._stale_since.pop(name, 0) > started_after
        if timing is None or stale:
            # A reload removed it (the scheduler forgets it) or changed its target while this
            # probe ran: the result is stale, so probe the new target at once.
            return None if timing is None else self.scheduler.now()
        now = self.wall_clock()
        step = observe_as_site(self.core, self.coordinator, name, result, now)
        self._publish(step.events)
        if step.wants_evidence:
            self._request_evidence(name)
        if not step.hold:
            self._probes_since_summary += 1
        mono = self.scheduler.now()
        next_due = due_after(
            timing,
            step,
            scheduled_at=due,
            finished_at=mono,
            resume_at=None if step.resume_at is None else mono + (step.resume_at - now),
            draw=self.rng.random,
        )
        await cast_vote(
            self.coordinator, name, step, lasts=next_due - mono, probe_timeout=timing.timeout
        )
        return next_due

    def owns(self, name: str) -> bool:
        """Whether this daemon probes `name` (always, unless it is one replica of several)."""
        return self.coordinator is None or self.coordinator.owns_provider(name)

    async def state_document(self) -> dict[str, Any]:
        """The whole state as a JSON-ready dict: a replica's is read from the shared store.

        Raises:
            StoreError: A replica's store cannot be read.
        """
        if self.coordinator is not None:
            return await self.coordinator.stored_state()
        return self.state.to_dict()

    def _target(self, name: str, timeout: float) -> ProbeTarget:
        """What to probe for `name`, as the configuration says now."""
        return probe_target(
            self.config, name, models=self.mesh.provider_models.get(name, ()), timeout=timeout
        )

    def probe_now(self, provider: str) -> bool:
        """Probe `provider` as soon as possible (see `view.DaemonControls`).

        Returns:
            False if it is not probed, or the scheduler is not running.
        """
        if provider not in self.providers or self.scheduler is None:
            return False
        self.scheduler.expedite(provider)
        return True

    def _request_evidence(self, held: str) -> None:
        """Probe one healthy, idle provider early: its answer (or not) tells whose fault it is."""
        assert self.scheduler is not None
        mono = self.scheduler.now()
        if mono - self._last_evidence_request < 1.0:
            return
        self._last_evidence_request = mono
        best: tuple[float, str] | None = None
        for name in self.providers:
            if name == held or name in self.guard.streak_started:
                continue
            due = self.scheduler.due_of(name)
            if due is not None and (best is None or due < best[0]):
                best = (due, name)
        if best is not None:
            self.scheduler.expedite(best[1])

    def publish(self, events: list[Event]) -> None:
        """Log, persist and hand to the sinks the events of a transition made outside a probe
        (a replica's coordinator following the sites' votes)."""
        self._publish(events)

    def _publish(self, events: list[Event]) -> None:
        shown = events if self.coordinator is None else self.coordinator.shown(events)
        for event in shown:
            level = event.log_level
            if log_enabled(level):  # a healthy probe's debug line: no fields built to be dropped
                getattr(_log, level)(event.name, **event.fields())
        if self.manager is not None and events:
            self.manager.record(events)
        for sink in self.sinks:
            sink(shown)

    # --- overrides (view.DaemonControls; the wiring is overrides_hooks') ------

    def overrides(self) -> list[Override]:
        """Every override in force now."""
        return overrides_now(self)

    def set_override(self, target: str, seconds: float, reason: str) -> list[Override]:
        """Hold `target` for `seconds` and publish (so persist) the change."""
        return hold(self, target, seconds, reason)

    def clear_override(self, target: str) -> bool:
        """End the override on `target` now."""
        return end_override(self, target)

    # --- the fleet --------------------------------------------------------

    def _apply_config(self, before: Topology | None = None) -> tuple[list[str], ...]:
        """Schedule exactly the configuration's enabled providers; probe changed ones at once.

        Args:
            before: The configuration and mesh a reload replaced (None at start-up).

        Returns:
            The providers added, removed and changed.
        """
        assert self.scheduler is not None
        diff = diff_fleet(self.providers, (self.config, self.mesh), before)
        self._reloads += 1
        scheduler = self.scheduler
        for name in diff.removed:
            del self.providers[name]
            scheduler.remove(name)
            self.core.forget(name)
            self._stale_since.pop(name, None)
        mono = scheduler.now()
        for name, timing in diff.added.items():
            self.providers[name] = timing
            if scheduler.running(name):  # removed and added back while its probe runs
                self._stale_since[name] = self._reloads
            if self.coordinator is None:  # a replica's coordinator schedules what it owns
                phase = phase_of(self.state.providers[name], self.policy)
                scheduler.add(name, first_due(timing, phase, mono, self.rng.random()))
        for name, timing in diff.retargeted.items():
            self.providers[name] = timing
            if scheduler.running(name):
                self._stale_since[name] = self._reloads
            scheduler.expedite(name)
        for name, timing in diff.kept.items():
            self.providers[name] = timing
        self.core.fleet = len(self.providers)
        return list(diff.added), diff.removed, list(diff.retargeted)

    async def reload(self) -> bool:
        """Re-read the configuration file and apply it as a diff.

        Returns:
            True if the new configuration was applied.
        """
        source = self.config.source
        if source is None:
            return False
        try:
            config = await load_config_in_thread(source, self.environ)
        except ConfigError as exc:
            _log.error("config.invalid", source=source, errors=exc.render().splitlines())
            release_memory()  # what reading the refused file took
            return False
        old = self.config
        for key in restart_required(old, config):
            _log.warning("config.restart_required", key=key)
        config = carried_over(old, config)
        previous = (self.config, self.mesh)
        self.config = config
        core = self.core
        core.mesh = config.mesh()
        core.policy = config.policy()
        core.windows = config.windows()
        follow_quorum(core, config)
        core.state, events = reconcile(core.mesh, core.state, self.wall_clock(), policy=core.policy)
        core.reindex()
        if self.manager is not None:
            self.manager.attach(self.state, self.mesh)
        self._publish(events)
        if config.daemon.log != old.daemon.log:
            configure_logging(config.daemon.log.level, config.daemon.log.format)
        self.guard.enabled = config.daemon.network_guard.enabled
        self.guard.min_providers = config.daemon.network_guard.min_providers
        if config.http != old.http or config.daemon.concurrency != old.daemon.concurrency:
            await self._replace_client(config)
        added, removed, changed = self._apply_config(previous)
        if self.coordinator is not None:
            self.coordinator.schedule_owned()
        release_memory()
        _log.info(
            "daemon.reloaded",
            source=source,
            added=added,
            removed=removed,
            changed=changed,
            unchanged=len(self.providers) - len(added) - len(changed),
        )
        return True

    async def _replace_client(self, config: Config) -> None:
        old = self.client
        self.client = build_client(client_options(config))
        if self.scheduler is not None:
            self.scheduler.resize(config.daemon.concurrency)
        if old is not None:
            # Probes in flight hold the old client until their deadline at the latest.
            longest = max((t.timeout for t in self.providers.values()), default=0.0)
            self._spawn(_close_later(old, longest + 1.0), "close-old-client")

    # --- reporting --------------------------------------------------------

    def counts(self) -> dict[str, Any]:
        """Providers up/down/pending and pools with no active model (summary, status, metrics)."""
        up = down = pending = 0
        for name in self.providers:
            phase = phase_of(self.state.providers[name], self.policy)
            if phase is Phase.HEALTHY:
                up += 1
            elif phase is Phase.DOWN:
                down += 1
            else:
                pending += 1
        empty = sorted(
            p for p, ps in self.state.pools.items() if not ps.active_models and self.mesh.pools[p]
        )
        return {
            "providers": len(self.providers),
            "up": up,
            "down": down,
            "pending": pending,
            "held": len(self.guard.held),
            "empty_pools": empty,
        }

    async def _summaries(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            assert self.scheduler is not None
            stats = self.scheduler.stats
            _log.info(
                "daemon.summary",
                **self.counts(),
                probes=self._probes_since_summary,
                in_flight=self.scheduler.in_flight,
                max_lateness_ms=round(stats.max_lateness * 1000.0, 1),
            )
            self._probes_since_summary = 0
            stats.max_lateness = 0.0


async def _close_later(client: httpx.AsyncClient, delay: float) -> None:
    await asyncio.sleep(delay)
    await client.aclose()


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception:  # noqa: BLE001 - best-effort cleanup after a failed start; already reported
        return


if TYPE_CHECKING:

    def _a_daemon_is_its_own_runtime(daemon: Daemon) -> DaemonRuntime:
        # mypy proves here that observers' view, and the wiring modules' runtime (a view plus
        # the parts they drive), are what the Daemon offers.
        return daemon
