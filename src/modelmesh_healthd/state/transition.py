"""Every state transition of the daemon, in one place.

Two functions change a SystemState, and nothing else does:

* `apply_probe` records one probe's report at time `now` and fans the consequences out across
  the mesh: provider down -> each of its active models to standby in every pool, with the
  provider's reason; provider up -> exactly those models back; a model missing at the provider ->
  that one model to standby.
* `reconcile` lines a restored (or previous) state up with a new topology, at start and on reload.

Both mutate the state in place (a transition touches a handful of objects, whatever the fleet size)
and return the typed events describing what changed. Neither does I/O or reads the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from modelmesh_healthd.state.events import (
    Event,
    ModelAdded,
    ModelDeactivated,
    ModelReactivated,
    ModelRemoved,
    PoolEmpty,
    PoolRestored,
    ProbeCompleted,
    ProviderAdded,
    ProviderDown,
    ProviderLoaded,
    ProviderLoading,
    ProviderReasonChanged,
    ProviderRemoved,
    ProviderThrottleEnded,
    ProviderUp,
)
from modelmesh_healthd.state.mesh import Mesh
from modelmesh_healthd.state.model import ACTIVE, STANDBY, ModelState, PoolState
from modelmesh_healthd.state.outcome import (
    MODEL_OUTCOME_REASONS,
    MODEL_REASONS,
    PROVIDER_REASONS,
    DeactivationReason,
    Outcome,
    as_outcome,
)
from modelmesh_healthd.state.policy import DEFAULT_POLICY, HealthPolicy
from modelmesh_healthd.state.provider import ProbeChange, ProviderState, plan_probe
from modelmesh_healthd.state.system import SystemState

__all__ = ["Observation", "ProbeReport", "apply_probe", "initial_state", "reconcile"]


class ProbeReport(Protocol):
    """What the core is told about one probe (the probes' ProbeResult is one)."""

    @property
    def outcome(self) -> Outcome: ...

    @property
    def latency(self) -> float | None: ...

    @property
    def retry_after(self) -> float | None: ...

    @property
    def detail(self) -> str | None: ...

    @property
    def model_outcomes(self) -> Mapping[str, Outcome]: ...


@dataclass(frozen=True, slots=True)
class Observation:
    """A plain ProbeReport, for callers that have no ProbeResult (tests, replays, the seed API).

    Attributes:
        outcome: The provider-level outcome class.
        latency: Seconds until the answer, when there was one.
        retry_after: Seconds the provider asked us to wait (rate limits).
        detail: Short, secret-free description.
        model_outcomes: Mesh model id -> `ok` or `model_not_found`, for models the probe checked.
    """

    outcome: Outcome
    latency: float | None = None
    retry_after: float | None = None
    detail: str | None = None
    model_outcomes: Mapping[str, Outcome] = field(default_factory=dict)


# --- building -------------------------------------------------------------


def initial_state(mesh: Mesh) -> SystemState:
    """A fresh state for `mesh`: every provider healthy, every enabled model active."""
    state, _ = reconcile(mesh, None, None)
    return state


def reconcile(
    mesh: Mesh,
    previous: SystemState | None,
    now: float | None,
    *,
    policy: HealthPolicy = DEFAULT_POLICY,
) -> tuple[SystemState, list[Event]]:
    """Line `previous` (restored or pre-reload) up with `mesh`.

    Providers and models present in both keep their state; new ones start healthy and active;
    ones no longer configured are dropped. Then the invariants are enforced: models of an
    unhealthy provider are in standby with the provider's reason, models the provider rule put in
    standby come back if their provider is healthy, `manual` standby follows the configuration,
    pools hold exactly their configured members, and every `active_model_count` is true.

    Args:
        mesh: The topology to reconcile to.
        previous: The state to carry over, or None for a first start.
        now: Timestamp for pool rotations caused by the reconciliation (None: leave unset).
        policy: Decides which providers are healthy.

    Returns:
        The reconciled state and the events describing what changed relative to `previous`.
    """
    old = previous or SystemState()
    announce = previous is not None
    events: list[Event] = []
    state = SystemState(timestamp=old.timestamp if now is None else now)

    for provider in mesh.providers:
        ps = old.providers.get(provider)
        if ps is None:
            ps = ProviderState()
            if announce:
                events.append(ProviderAdded(provider, len(mesh.provider_models[provider])))
        state.providers[provider] = ps
    if announce:
        events.extend(ProviderRemoved(p) for p in old.providers if p not in state.providers)

    for model in mesh.model_provider:
        _reconcile_model(
            mesh, old, state, model, policy=policy, events=events if announce else None
        )
    if announce:
        events.extend(ModelRemoved(m) for m in old.models if m not in state.models)

    for pool in mesh.pools:
        _reconcile_pool(mesh, old, state, pool, now=now, events=events)

    for provider, ps in state.providers.items():
        ps.active_model_count = sum(
            1 for m in mesh.provider_models[provider] if state.models[m].is_active
        )
    return state, events


def _reconcile_model(
    mesh: Mesh,
    old: SystemState,
    state: SystemState,
    model: str,
    *,
    policy: HealthPolicy,
    events: list[Event] | None,
) -> None:
    provider = mesh.model_provider[model]
    ms = old.models.get(model)
    if ms is None:
        state.models[model] = ModelState()
        _settle_model(mesh, state, model, policy)
        if events is not None:
            events.append(ModelAdded(model, provider))
        return
    was_active = ms.is_active
    state.models[model] = ms
    _settle_model(mesh, state, model, policy)
    if events is None or was_active == ms.is_active:
        return
    pools: tuple[str | None, ...] = mesh.model_pools[model] or (None,)
    if ms.is_active:
        events.extend(ModelReactivated(model, provider, p, "reconciled") for p in pools)
    else:
        reason = ms.deactivation_reason or ""
        events.extend(ModelDeactivated(model, provider, p, reason) for p in pools)


def _reconcile_pool(
    mesh: Mesh,
    old: SystemState,
    state: SystemState,
    pool: str,
    *,
    now: float | None,
    events: list[Event],
) -> None:
    members = mesh.pools[pool]
    before = old.pools.get(pool)
    ps = PoolState(
        rotation_count=before.rotation_count if before else 0,
        last_rotation=before.last_rotation if before else None,
    )
    for model in members:
        (ps.active_models if state.models[model].is_active else ps.standby_models).add(model)
    moved = before is not None and (
        before.active_models != ps.active_models or before.standby_models != ps.standby_models
    )
    if moved:
        ps.rotation_count += 1
        if now is not None:
            ps.last_rotation = now
    state.pools[pool] = ps
    if members and not ps.active_models and (before is None or before.active_models):
        events.append(PoolEmpty(pool, len(ps.standby_models)))
    elif ps.active_models and before is not None and not before.active_models:
        events.append(PoolRestored(pool, len(ps.active_models)))


def _settle_model(mesh: Mesh, state: SystemState, model: str, policy: HealthPolicy) -> None:
    """Put one model's status where the invariants say it belongs (no pool bookkeeping)."""
    ms = state.models[model]
    ps = state.providers[mesh.model_provider[model]]
    reason = ms.deactivation_reason
    if model in mesh.disabled:
        _set_status(ms, STANDBY, DeactivationReason.MANUAL, ms.deactivated_at)
        return
    if ms.override_until is not None or ps.override_until is not None:
        return  # held by an override: it settles the model when it ends (state.overrides)
    if not ms.is_active and reason == DeactivationReason.MAINTENANCE_WINDOW:
        reason = None  # an override's hold with no override left: free it
        _set_status(ms, ACTIVE, None, None)
    if not ms.is_active and reason == DeactivationReason.MANUAL:
        _set_status(ms, ACTIVE, None, None)  # the configuration enables it again
    if not ps.is_healthy(policy):
        if ms.is_active or ms.deactivation_reason in PROVIDER_REASONS:
            _set_status(ms, STANDBY, _provider_reason(ps), ms.deactivated_at)
    elif not ms.is_active and ms.deactivation_reason in PROVIDER_REASONS:
        _set_status(ms, ACTIVE, None, None)


def _set_status(ms: ModelState, status: str, reason: str | None, at: float | None) -> None:
    ms.status = status
    ms.deactivation_reason = reason
    ms.deactivated_at = at


def _provider_reason(ps: ProviderState) -> str:
    if ps.down_reason is not None and ps.down_reason in PROVIDER_REASONS:
        return ps.down_reason
    if not ps.auth_valid:
        return DeactivationReason.AUTH_FAILURE
    return DeactivationReason.PROVIDER_UNAVAILABLE


# --- the probe transition ---------------------------------------------------


def apply_probe(
    mesh: Mesh,
    state: SystemState,
    provider: str,
    report: ProbeReport,
    now: float,
    *,
    policy: HealthPolicy = DEFAULT_POLICY,
    change: ProbeChange | None = None,
) -> list[Event]:
    """Record one probe of `provider` at `now` and fan its consequences out across the mesh.

    Args:
        mesh: The topology `state` was reconciled to.
        state: Mutated in place.
        provider: The probed provider's id.
        report: The probe's classified result.
        now: Unix timestamp of the probe's completion.
        policy: Thresholds and outcome rules.
        change: What the probe does to the provider, when the caller has planned it already
            (`observe` plans it once, for the guard and for this).

    Returns:
        The events, in order: `probe.completed`, the start or end of loading and the end of a
        rate limit, then any provider transition, then the model and pool changes it caused.

    Raises:
        KeyError: `provider` is not in the mesh (a programming error of the caller).
    """
    ps = state.providers[provider]
    was_healthy = ps.is_healthy(policy)
    old_reason = ps.down_reason
    went_down_at = ps.changed_at
    loading_since, throttled = ps.loading_since, ps.last_outcome == Outcome.RATE_LIMITED
    outcome = as_outcome(report.outcome)
    if change is None:
        change = plan_probe(ps, False, outcome, now, policy)
    change.apply(ps, now, outcome, report.latency)
    ps.last_detail = report.detail
    if outcome is Outcome.RATE_LIMITED and report.retry_after is not None:
        ps.throttled_until = now + max(0.0, report.retry_after)
    else:
        ps.throttled_until = None
    healthy = ps.is_healthy(policy)
    state.timestamp = now
    score = round(ps.availability_score, 4)

    events: list[Event] = [
        ProbeCompleted(
            provider=provider,
            outcome=str(outcome),
            latency_ms=None if report.latency is None else round(report.latency * 1000.0, 1),
            score=score,
            healthy=healthy,
            detail=report.detail,
            retry_after=report.retry_after if outcome is Outcome.RATE_LIMITED else None,
        )
    ]
    events.extend(
        _phase_events(
            provider, ps, outcome, loading_since=loading_since, throttled=throttled, now=now
        )
    )
    fan = _FanOut(mesh, state, now, events, policy)
    if was_healthy != healthy or not healthy:
        fan.provider_transition(
            provider,
            outcome,
            report.detail,
            was_healthy=was_healthy,
            old_reason=old_reason,
            went_down_at=went_down_at,
        )

    for model, model_outcome in report.model_outcomes.items():
        if mesh.model_provider.get(model) == provider:  # a stale check of a moved model: skip
            fan.model_check(model, as_outcome(model_outcome), provider_healthy=healthy)

    ps.active_model_count += fan.active_delta
    return events


def _phase_events(
    provider: str,
    ps: ProviderState,
    outcome: Outcome,
    *,
    loading_since: float | None,
    throttled: bool,
    now: float,
) -> list[Event]:
    """The start and end of loading and the end of a rate limit, once each (not per probe)."""
    events: list[Event] = []
    if loading_since is None and ps.loading_since is not None:
        events.append(ProviderLoading(provider, ps.last_detail))
    elif loading_since is not None and ps.loading_since is None:
        events.append(ProviderLoaded(provider, str(outcome), round(now - loading_since, 3)))
    if throttled and outcome is not Outcome.RATE_LIMITED:
        events.append(ProviderThrottleEnded(provider, str(outcome)))
    return events


class _FanOut:
    """Moves one provider's models between active and standby in every pool, with events."""

    __slots__ = ("active_delta", "events", "mesh", "now", "policy", "state")

    def __init__(
        self,
        mesh: Mesh,
        state: SystemState,
        now: float,
        events: list[Event],
        policy: HealthPolicy,
    ) -> None:
        self.mesh, self.state, self.now, self.events = mesh, state, now, events
        self.policy = policy
        self.active_delta = 0

    def provider_transition(
        self,
        provider: str,
        outcome: Outcome,
        detail: str | None,
        *,
        was_healthy: bool,
        old_reason: str | None,
        went_down_at: float | None,
    ) -> None:
        """Fan a provider's health change (or a change of its down reason) out to its models."""
        ps = self.state.providers[provider]
        models = self.mesh.provider_models[provider]
        score = round(ps.availability_score, 4)
        if ps.is_healthy(self.policy):
            down_for = None if went_down_at is None else round(self.now - went_down_at, 3)
            self.events.append(ProviderUp(provider, score, down_for))
            for model in models:
                if self.frozen(model):
                    continue
                if self.state.models[model].deactivation_reason in PROVIDER_REASONS:
                    self.activate(model)
            return
        reason = _provider_reason(ps)
        if was_healthy:
            self.events.append(ProviderDown(provider, reason, str(outcome), score, detail))
            for model in models:
                if self.state.models[model].is_active and not self.frozen(model):
                    self.deactivate(model, reason)
            return
        if old_reason is not None and reason != old_reason:
            self.events.append(ProviderReasonChanged(provider, str(outcome), old_reason, reason))
        for model in models:
            ms = self.state.models[model]
            if ms.deactivation_reason in PROVIDER_REASONS and not self.frozen(model):
                ms.deactivation_reason = reason

    def model_check(self, model: str, outcome: Outcome, *, provider_healthy: bool) -> None:
        """Apply the probe's finding on one model (found or missing at the provider)."""
        if self.frozen(model):
            return
        ms = self.state.models[model]
        own = MODEL_OUTCOME_REASONS.get(outcome)
        if own is not None:
            if ms.is_active:
                self.deactivate(model, own)
            elif ms.deactivation_reason in PROVIDER_REASONS or (
                ms.deactivation_reason in MODEL_REASONS and ms.deactivation_reason != own
            ):
                # Out already for the provider's sake (or another of its own); remember what
                # the model itself has now, so the provider's recovery does not bring it back.
                ms.deactivation_reason = own
        elif outcome is Outcome.OK and ms.deactivation_reason in MODEL_REASONS:
            if provider_healthy:
                self.activate(model)
            else:
                provider = self.state.providers[self.mesh.model_provider[model]]
                ms.deactivation_reason = _provider_reason(provider)

    def frozen(self, model: str) -> bool:
        """An override holds this model: the provider's health does not move it."""
        until = self.state.models[model].override_until
        return until is not None and self.now < until

    def deactivate(self, model: str, reason: str) -> None:
        ms = self.state.models[model]
        provider = self.mesh.model_provider[model]
        _set_status(ms, STANDBY, reason, self.now)
        self.active_delta -= 1
        pools = self.mesh.model_pools[model]
        if not pools:
            self.events.append(ModelDeactivated(model, provider, None, reason))
        for pool in pools:
            ps = self.state.pools[pool]
            ps.active_models.discard(model)
            ps.standby_models.add(model)
            self._rotated(ps)
            self.events.append(ModelDeactivated(model, provider, pool, reason))
            if not ps.active_models:
                self.events.append(PoolEmpty(pool, len(ps.standby_models)))

    def activate(self, model: str) -> None:
        ms = self.state.models[model]
        provider = self.mesh.model_provider[model]
        reason = ms.deactivation_reason or ""
        _set_status(ms, ACTIVE, None, None)
        self.active_delta += 1
        pools = self.mesh.model_pools[model]
        if not pools:
            self.events.append(ModelReactivated(model, provider, None, reason))
        for pool in pools:
            ps = self.state.pools[pool]
            was_empty = not ps.active_models
            ps.standby_models.discard(model)
            ps.active_models.add(model)
            self._rotated(ps)
            self.events.append(ModelReactivated(model, provider, pool, reason))
            if was_empty:
                self.events.append(PoolRestored(pool, len(ps.active_models)))

    def _rotated(self, pool: PoolState) -> None:
        pool.rotation_count += 1
        pool.last_rotation = self.now


FanOut = _FanOut
"""Public name for the overrides module, which moves models with the same bookkeeping."""

provider_reason = _provider_reason
"""The reason a down provider gives its models (public for the overrides module)."""
