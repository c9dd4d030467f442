"""The daemon: startup -> run -> shutdown, around the scheduler and the pure health core.

Signal handlers only set flags (uvicorn's pattern): SIGTERM/SIGINT request a graceful stop, a
second SIGINT forces it, SIGHUP requests a reload. The main loop acts on the flags.

This module is longer than most on purpose: `Daemon` is the one owner of the daemon's mutable
runtime (state, mesh, providers, client, scheduler, store), and startup, one probe's result,
reload and shutdown each change all of it. The parts that do not need that ownership live
beside it: timing, the scheduler, the guard, targets, supervision, metrics, memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import signal
import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import structlog

from modelmesh_healthd import __version__
from modelmesh_healthd.config import Config, ConfigError, load_config
from modelmesh_healthd.daemon.guard import NETWORK_OUTCOMES, ConnectivityGuard
from modelmesh_healthd.daemon.logs import configure_logging
from modelmesh_healthd.daemon.memory import release_memory, trim_periodically
from modelmesh_healthd.daemon.scheduler import Scheduler
from modelmesh_healthd.daemon.supervision import Supervision
from modelmesh_healthd.daemon.targets import client_options, probe_target, timing_for
from modelmesh_healthd.daemon.timing import (
    Phase,
    Timing,
    base_delay,
    first_due,
    next_due,
    phase_of,
)
from modelmesh_healthd.probes import ProbeResult, ProbeTarget, build_client, probe
from modelmesh_healthd.state import (
    Event,
    Mesh,
    Outcome,
    ProviderDown,
    SystemState,
    apply_probe,
    reconcile,
)
from modelmesh_healthd.storage import (
    StateManager,
    StoreError,
    StoreUnavailableError,
    default_store_url,
    open_store,
    redact_url,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["Daemon"]

_log = structlog.get_logger("modelmesh_healthd.daemon")

EventSink = Callable[[list[Event]], None]


class _Provider:
    """What the daemon keeps per probed provider besides its ProviderState.

    Not its ProbeTarget: that is built from the configuration for each probe (see `_target`).
    A reload that changes a provider's target replaces this object, so a probe still running
    with the old target can tell that its result is stale.
    """

    __slots__ = ("down_probes", "timing")

    def __init__(self, timing: Timing, down_probes: int = 0) -> None:
        self.timing = timing
        self.down_probes = down_probes


class Daemon:
    """The long-running health daemon.

    Args:
        config: The validated configuration (its `source` is re-read on reload).
        store_url: Overrides `storage.url`.
        environ: Environment for `${VAR}` on reload and for the default store location.
        wall_clock: Unix time, for the state's timestamps.
        rng: Randomness for jitter and the initial stagger.
    """

    def __init__(
        self,
        config: Config,
        *,
        store_url: str | None = None,
        environ: Mapping[str, str] | None = None,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.store_url = store_url or config.storage.url or default_store_url(self.environ)
        self.wall_clock = wall_clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.writer_id = f"{socket.gethostname()}:{os.getpid()}:{config.daemon.instance}"
        self.mesh: Mesh = config.mesh()
        self.policy = config.policy()
        self.state = SystemState()
        self.providers: dict[str, _Provider] = {}
        self.guard = ConnectivityGuard(
            enabled=config.daemon.network_guard.enabled,
            min_providers=config.daemon.network_guard.min_providers,
        )
        self.sinks: list[EventSink] = []
        """Extra consumers of every batch of state events (metrics)."""
        self.ready = False
        """State restored and the scheduler running (for /readyz and READY=1)."""
        self.exit_code = 0
        """What `run()` returns after a stop (1 when the store was taken over)."""
        self.manager: StateManager | None = None
        self.scheduler: Scheduler | None = None
        self.client: httpx.AsyncClient | None = None
        self._stop = asyncio.Event()
        self._forced = asyncio.Event()
        self._reload = False
        self._force = False
        self._stop_signal: str | None = None
        self._probes_since_summary = 0
        self._last_evidence_request = 0.0
        self._background: set[asyncio.Task[Any]] = set()
        self.supervision = Supervision(self)
        """Admin endpoint, metrics, sd_notify, watchdog, heartbeat (the lifecycle hooks)."""

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
            await self._main_loop()
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
            store = open_store(self.store_url)
        except StoreError as exc:
            _log.error("daemon.startup_failed", reason=str(exc))
            return False
        manager = StateManager(
            store,
            policy=self.config.storage.sync_policy,
            sync_interval=self.config.storage.sync_interval,
            writer_id=self.writer_id,
        )
        opened, restored = await self._open_store(manager)
        if not opened:
            await _quietly(manager.stop())
            return False
        if not await self.supervision.start_admin():
            await _quietly(manager.stop())  # release the lock: this daemon will not run
            return False
        self.manager = manager
        now = self.wall_clock()
        self.state, events = reconcile(self.mesh, restored, now, policy=self.policy)
        manager.attach(self.state, self.mesh)
        self._publish(events)

        self.client = build_client(client_options(self.config))
        self.scheduler = Scheduler(
            self._job,
            concurrency=self.config.daemon.concurrency,
            on_start=self.supervision.metrics.on_probe_start,
        )
        self._apply_config()
        self._spawn(self.scheduler.run(), "scheduler")
        self._spawn(self._watch_lock(manager), "lock-watch")
        self._spawn(trim_periodically(), "memory-trim")
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
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        saved = False
        budget = 2.0 if self._force else max(grace, 5.0)
        if self.manager is not None:
            try:
                async with asyncio.timeout(budget):
                    saved = await self.manager.sync()
                    await self.manager.stop()
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
        entry = self.providers.get(name)
        client = self.client
        if entry is None or client is None:
            return None
        result = await probe(client, self._target(name, entry.timing.timeout))
        if self.providers.get(name) is not entry:
            # A reload removed it (the scheduler forgets it) or changed its target while this
            # probe ran: the result is stale, so probe the new target at once.
            return (
                None
                if name not in self.providers or self.scheduler is None
                else self.scheduler.now()
            )
        return self._record(name, entry, result, due)

    def _target(
        self, name: str, timeout: float, topology: tuple[Config, Mesh] | None = None
    ) -> ProbeTarget:
        """What to probe for `name`, as the configuration says now (or as `topology` said)."""
        config, mesh = topology or (self.config, self.mesh)
        return probe_target(
            config, name, models=mesh.provider_models.get(name, ()), timeout=timeout
        )

    def _retargeted(self, name: str, was: Timing, now: Timing, before: tuple[Config, Mesh]) -> bool:
        """Whether a reload changed what a probe of `name` sends (URL, key, models, timeout...)."""
        return self._target(name, was.timeout, before) != self._target(name, now.timeout)

    def _record(self, name: str, entry: _Provider, result: ProbeResult, due: float) -> float:
        assert self.scheduler is not None
        now = self.wall_clock()
        ps = self.state.providers[name]
        if self._held(name, result, now):
            self._request_evidence(name)
            # Keep probing, backing off as for a down provider: our network may be out for long.
            delay = base_delay(entry.timing, Phase.DOWN, entry.down_probes)
            entry.down_probes += 1
            return self.scheduler.now() + delay
        events = apply_probe(self.mesh, self.state, name, result, now, policy=self.policy)
        self._probes_since_summary += 1
        self._publish(events)
        phase = phase_of(ps, self.policy)
        went_down = any(isinstance(e, ProviderDown) for e in events)
        if phase is Phase.DOWN:
            entry.down_probes = 0 if went_down else entry.down_probes + 1
        elif ps.is_healthy(self.policy):
            entry.down_probes = 0
        mono = self.scheduler.now()
        resume = None if ps.throttled_until is None else mono + (ps.throttled_until - now)
        return next_due(
            entry.timing,
            phase,
            down_probes=entry.down_probes,
            scheduled_at=due,
            finished_at=mono,
            resume_at=resume,
            u=self.rng.random(),
        )

    def _held(self, name: str, result: ProbeResult, now: float) -> bool:
        """Let the connectivity guard see every result; True if this one must be held back."""
        outcome = Outcome(result.outcome)
        would_go_down = False
        if outcome in NETWORK_OUTCOMES and self.guard.enabled:
            ps = self.state.providers[name]
            trial = dataclasses.replace(ps)
            trial.record_probe(False, now=now, outcome=outcome, policy=self.policy)
            would_go_down = ps.is_healthy(self.policy) and not trial.is_healthy(self.policy)
        decision = self.guard.observe(
            name, outcome, now, would_go_down=would_go_down, fleet=len(self.providers)
        )
        if decision.suspect_ended:
            _log.info("daemon.network_restored", provider=name)
        if decision.suspect_started:
            _log.warning(
                "daemon.network_suspect",
                provider=name,
                outcome=str(result.outcome),
                held=len(self.guard.held),
            )
        if decision.hold:
            _log.info(
                "probe.held", provider=name, outcome=str(result.outcome), detail=result.detail
            )
        return decision.hold

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

    def _publish(self, events: list[Event]) -> None:
        for event in events:
            getattr(_log, event.log_level)(event.name, **event.fields())
        if self.manager is not None and events:
            self.manager.record(events)
        for sink in self.sinks:
            sink(events)

    # --- the fleet --------------------------------------------------------

    def _apply_config(
        self, before: tuple[Config, Mesh] | None = None
    ) -> tuple[list[str], list[str], list[str]]:
        """Schedule exactly the configuration's enabled providers; probe changed ones at once.

        Args:
            before: The configuration and mesh a reload replaced (None at start-up).

        Returns:
            The providers added, removed and changed.
        """
        assert self.scheduler is not None
        config = self.config
        enabled = [name for name, cfg in config.providers.items() if cfg.enabled and cfg.probed]
        keep = set(enabled)
        added, removed, changed = [], [], []
        for name in list(self.providers):
            if name not in keep:
                del self.providers[name]
                self.scheduler.remove(name)
                self.guard.forget(name)
                removed.append(name)
        mono = self.scheduler.now()
        for name in enabled:
            timing = timing_for(config, name)
            current = self.providers.get(name)
            if current is None:
                self.providers[name] = _Provider(timing)
                phase = phase_of(self.state.providers[name], self.policy)
                self.scheduler.add(name, first_due(timing, phase, mono, self.rng.random()))
                added.append(name)
            elif before is not None and self._retargeted(name, current.timing, timing, before):
                self.providers[name] = _Provider(timing, current.down_probes)
                self.scheduler.expedite(name)
                changed.append(name)
            else:
                current.timing = timing
        return added, removed, changed

    async def reload(self) -> bool:
        """Re-read the configuration file and apply it as a diff.

        Returns:
            True if the new configuration was applied.
        """
        source = self.config.source
        if source is None:
            return False
        try:
            config = await asyncio.to_thread(load_config, source, self.environ)
        except ConfigError as exc:
            _log.error("config.invalid", source=source, errors=exc.render().splitlines())
            return False
        old = self.config
        for key, before, after in (
            ("storage", old.storage, config.storage),
            ("daemon.instance", old.daemon.instance, config.daemon.instance),
            ("admin", old.admin, config.admin),
        ):
            if before != after:
                _log.warning("config.restart_required", key=key)
        config = config.model_copy(update={"storage": old.storage, "admin": old.admin})
        config._source = source
        previous = (self.config, self.mesh)
        self.config = config
        self.mesh = config.mesh()
        self.policy = config.policy()
        self.state, events = reconcile(self.mesh, self.state, self.wall_clock(), policy=self.policy)
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
            longest = max((p.timing.timeout for p in self.providers.values()), default=0.0)
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
