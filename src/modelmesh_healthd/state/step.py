"""One probe result in, one decision out: `observe`, the core's single step for probe results.

    probe -> observe(core, provider, report, now) -> Step -> publish events, schedule next_due

`observe` owns every health decision about one result, in this order:

0. the latency: a correct but slow answer is `degraded` (`state.latency`);
1. the rule: what the probe would do to the provider (`plan_probe`, decided once);
1b. an override: expire the provider's ended ones; a held (drained) provider's result is not
   applied at all (`state.overrides`);
2. the connectivity guard: would that take a healthy provider down without proof that our own
   network works? Then hold the result back (nothing applied) and ask for evidence;
2b. the quorum across sites (`state.quorum`, when `daemon.vantage` is set): the result is this
   site's vote, and the shared state follows the sites' tally: a result that would move it
   against the tally is held back, and the tally moves it when this site's view does not
   (`observe_quorum`, also run after each read of the votes);
3. the transition: apply the planned change and fan it out across the mesh (`apply_probe`);
4. the phase: which interval applies next, and how far a down provider's backoff has grown.

The daemon does only I/O around it. Later inputs plug in here, not in the daemon: evidence from
elsewhere (a router's report that accuses a provider) answers with `Step.probe_now`, and an
override that holds a provider's state (a drain) decides before step 2, as the guard does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from modelmesh_healthd.state.events import (
    Event,
    NetworkRestored,
    NetworkSuspect,
    ProbeHeld,
    QuorumDecided,
    QuorumPending,
)
from modelmesh_healthd.state.guard import ConnectivityGuard
from modelmesh_healthd.state.latency import latency_step
from modelmesh_healthd.state.mesh import Mesh
from modelmesh_healthd.state.outcome import Effect, Outcome, as_outcome, reason_for
from modelmesh_healthd.state.overrides import (
    OverrideIndex,
    expire_due,
    expire_overrides,
    is_held,
)
from modelmesh_healthd.state.phase import Phase, phase_of
from modelmesh_healthd.state.policy import DEFAULT_POLICY, HealthPolicy
from modelmesh_healthd.state.provider import ProbeChange, ProviderState, plan_probe
from modelmesh_healthd.state.quorum import Quorum, Tally, Vote
from modelmesh_healthd.state.system import SystemState
from modelmesh_healthd.state.transition import FanOut, Observation, ProbeReport, apply_probe
from modelmesh_healthd.state.windows import Window, open_windows

__all__ = ["HealthCore", "Step", "observe", "observe_quorum", "observe_vote"]


@dataclass(slots=True)
class HealthCore:
    """Everything `observe` decides with: the topology, the state and the core's own memory.

    Attributes:
        mesh: The topology `state` is reconciled to.
        state: The health of every provider, model and pool (mutated by `observe`).
        policy: Thresholds and outcome rules.
        guard: The connectivity guard and its memory of who answered when.
        fleet: How many providers are probed (the guard leaves small fleets alone).
        down_probes: Per provider, failed probes since it went down (its backoff so far);
            none (0) for a provider without an entry.
        windows: Scheduled maintenance windows (`state.windows`).
        quorum: This site's part in a quorum across sites (None: one site, nothing voted).
        overrides: The overrides in force by end time (`tick` reads it). Whoever replaces
            objects of `state` from elsewhere (a restore, a reload, a store read) calls
            `reindex` for them; overrides set through the core or `note_events` are indexed.
    """

    mesh: Mesh
    state: SystemState
    policy: HealthPolicy = DEFAULT_POLICY
    guard: ConnectivityGuard = field(default_factory=ConnectivityGuard)
    fleet: int = 0
    down_probes: dict[str, int] = field(default_factory=dict)
    windows: tuple[Window, ...] = ()
    quorum: Quorum | None = None
    overrides: OverrideIndex = field(default_factory=OverrideIndex)

    def tick(self, now: float) -> list[Event]:
        """Outside the probes: end every override due at `now`, open every window due.

        Only the overrides the index says are due are looked at, not the whole fleet.
        """
        events = expire_due(self.mesh, self.state, self.overrides, now, policy=self.policy)
        opened = open_windows(self.mesh, self.state, self.windows, now, policy=self.policy)
        self.overrides.note_events(opened)
        return events + opened

    def reindex(self, providers: Iterable[str] | None = None) -> None:
        """Re-read the overrides of `providers` (None: all) after their objects were replaced."""
        self.overrides.reindex(self.mesh, self.state, providers)

    def set_backoff(self, provider: str, backoff: int) -> None:
        """Note `provider`'s failed probes since it went down (`down_probes`)."""
        if backoff:
            self.down_probes[provider] = backoff
        else:  # the usual case: no entry per healthy provider (docs/benchmarks.md)
            self.down_probes.pop(provider, None)

    def forget(self, provider: str) -> None:
        """Drop the core's memory of a provider that is no longer probed."""
        self.guard.forget(provider)
        self.down_probes.pop(provider, None)
        if self.quorum is not None:
            self.quorum.forget(provider)


@dataclass(frozen=True, slots=True)
class Step:
    """What one observed result decided.

    Attributes:
        events: What changed, in order, to log, persist and count (possibly none).
        phase: Which interval applies to the provider next.
        backoff: Failed probes since it went down: how far its down interval has grown.
        hold: The result was held back, not applied (the provider's state is unchanged). A
            writer's success that the other sites outvote (quorum across sites) is not applied
            either, but is scheduled as this site sees it: `hold` is False for it.
        resume_at: Unix time before which the provider asked not to be probed (Retry-After).
        wants_evidence: Probe some other, healthy provider early: its answer says whose network
            is at fault.
        probe_now: Probe this provider again at once, whatever its phase. Nothing sets it yet:
            it is where evidence from outside the probes (a router's report) will answer.
        overridden: An override (drain, maintenance window) holds the provider: the result was
            not applied, and the provider keeps its schedule.
        vote: This site's vote after the result (quorum across sites only): to publish.
    """

    events: list[Event]
    phase: Phase
    backoff: int = 0
    hold: bool = False
    resume_at: float | None = None
    wants_evidence: bool = False
    probe_now: bool = False
    overridden: bool = False
    vote: Vote | None = None


def observe(core: HealthCore, provider: str, report: ProbeReport, now: float) -> Step:
    """Decide everything one probe result means, and apply it to `core.state`.

    Args:
        core: The core's state and memory (mutated).
        provider: The probed provider (in `core.mesh`).
        report: The probe's classified result.
        now: Unix time of the probe's completion.

    Returns:
        The step: events, next phase and backoff, and whether the result was held back.

    Raises:
        KeyError: `provider` is not in the mesh (a programming error of the caller).
    """
    policy = core.policy
    ps = core.state.providers[provider]
    events: list[Event] = expire_overrides(
        core.mesh, core.state, now, providers=(provider,), policy=policy
    )
    if core.windows:
        opened = open_windows(
            core.mesh, core.state, core.windows, now, providers=(provider,), policy=policy
        )
        core.overrides.note_events(opened)
        events += opened
    if is_held(ps, now):
        # A drained provider: probed on its usual schedule, but nothing it answers changes it.
        held = as_outcome(report.outcome).value
        events.append(ProbeHeld(provider, held, f"override: {ps.override_reason}"))
        phase = phase_of(ps, policy)
        return Step(events, phase, core.down_probes.get(provider, 0), overridden=True)
    # Slow but correct is `degraded` (state.latency): decided first, so the rule below sees
    # the outcome the probe really had (`health.outcomes: {degraded: failure}` applies).
    outcome, slow = latency_step(
        ps, provider, as_outcome(report.outcome), report.latency, now=now, policy=policy
    )
    if outcome is not report.outcome:
        report = Observation(
            outcome, report.latency, report.retry_after, report.detail, report.model_outcomes
        )
    change = plan_probe(ps, False, outcome, now, policy)
    was_healthy = ps.is_healthy(policy)
    goes_down = was_healthy and not change.healthy(policy)

    on_hold = _guarded(
        core, provider, outcome, report.detail, now=now, goes_down=goes_down, events=events
    )
    if on_hold is not None:
        return on_hold

    vote = None
    if core.quorum is not None:
        vote, settled = _quorum_step(
            core, provider, outcome, change, now, was_healthy=was_healthy, events=events
        )
        if settled is not None:
            return settled

    events += apply_probe(
        core.mesh, core.state, provider, report, now, policy=policy, change=change
    )
    events += slow
    phase = phase_of(ps, policy)
    before = core.down_probes.get(provider, 0)
    backoff = _backoff(before, phase, healthy=ps.is_healthy(policy), went_down=goes_down)
    core.set_backoff(provider, backoff)
    return Step(events, phase, backoff, resume_at=ps.throttled_until, vote=vote)


def _quorum_step(
    core: HealthCore,
    provider: str,
    outcome: Outcome,
    change: ProbeChange,
    now: float,
    *,
    was_healthy: bool,
    events: list[Event],
) -> tuple[Vote, Step | None]:
    """The writer's result as its site's vote, and the shared state following the tally.

    Returns:
        This site's vote, and the step when the result is held (None: apply it).
    """
    quorum = core.quorum
    assert quorum is not None
    policy = core.policy
    ps = core.state.providers[provider]
    quorum.seed(provider, ps)
    vote = quorum.cast(provider, outcome, now, policy)
    tally = quorum.tally(provider, now, policy)
    wanted = tally.healthy(was_healthy)
    if change.healthy(policy) != wanted:
        # The result would move the shared state against the sites' tally: held (the shared
        # state is not changed by it), and the tally moves it if this site's view does not.
        events += _pending(quorum, provider, vote, tally, outcome.value)
        events += _follow(core, provider, tally, now)
        if not vote.down or not ps.is_healthy(policy):
            quorum.pending.discard(provider)
        backoff = core.down_probes.get(provider, 0)
        core.set_backoff(provider, backoff + 1 if vote.down else 0)
        phase = phase_of(quorum.sites[provider], policy)
        # Scheduled as this site sees it: a held failure as the guard's are (`hold`), a
        # success that the other sites outvote at this site's own pace.
        return vote, Step(events, phase, backoff, hold=vote.down, vote=vote)
    if not vote.down or not wanted:
        quorum.pending.discard(provider)
    if wanted != was_healthy:
        events.append(
            QuorumDecided(
                provider, "up" if wanted else "down", tally.down, tally.needed, tally.live
            )
        )
    return vote, None


def observe_vote(core: HealthCore, provider: str, report: ProbeReport, now: float) -> Step:
    """A result of a provider whose shared state another replica writes: this site only votes.

    The result changes this site's own view of the provider (`Quorum.sites`), never the shared
    state (the writer's, read from the store). The connectivity guard applies as in `observe`:
    a network failure with no proof that this site's network works does not turn its vote.

    Args:
        core: The core (its `quorum` is set).
        provider: The probed provider.
        report: The probe's classified result.
        now: Unix time of the probe's completion.

    Returns:
        The step: guard events, this site's phase and backoff, and its vote (None while held).

    Raises:
        ValueError: The core has no quorum (a programming error of the caller).
    """
    quorum = core.quorum
    if quorum is None:
        raise ValueError("observe_vote needs a core with a quorum")
    policy = core.policy
    shared = core.state.providers.get(provider)
    quorum.seed(provider, shared if shared is not None else ProviderState())
    view = quorum.sites[provider]
    outcome = Outcome(report.outcome)
    was_healthy = view.is_healthy(policy)
    goes_down = was_healthy and not plan_probe(view, False, outcome, now, policy).healthy(policy)
    events: list[Event] = []
    on_hold = _guarded(
        core, provider, outcome, report.detail, now=now, goes_down=goes_down, events=events
    )
    if on_hold is not None:
        return on_hold
    vote = quorum.cast(provider, outcome, now, policy)
    phase = phase_of(view, policy)
    before = core.down_probes.get(provider, 0)
    backoff = _backoff(before, phase, healthy=not vote.down, went_down=goes_down)
    core.set_backoff(provider, backoff)
    resume_at = None
    if outcome is Outcome.RATE_LIMITED and report.retry_after is not None:
        resume_at = now + max(0.0, report.retry_after)
    return Step(events, phase, backoff, resume_at=resume_at, vote=vote)


def observe_quorum(core: HealthCore, provider: str, now: float) -> Step:
    """The writer's step outside its probes: the shared state follows the sites' votes.

    Run after each read of the votes (a coordination round): other sites' votes alone can take
    a provider down (K sites agree while this site sees it up) or bring it back (too few sites
    still see it down while this site does).

    Args:
        core: The core (its `quorum` holds the votes and live sites just read).
        provider: A provider this replica writes.
        now: Unix time.

    Returns:
        The step: the transition's events (none when the shared state already follows the
        tally), the provider's phase and backoff.
    """
    quorum = core.quorum
    ps = core.state.providers[provider]
    backoff = core.down_probes.get(provider, 0)
    if quorum is None or is_held(ps, now):
        return Step([], phase_of(ps, core.policy), backoff)
    # Not seeded: until this site probes the provider, its stored vote stands for it.
    tally = quorum.tally(provider, now, core.policy)
    events = _follow(core, provider, tally, now)
    own = quorum.own_vote(provider, now, core.policy)
    if not ps.is_healthy(core.policy) or own is None or not own.down:
        quorum.pending.discard(provider)
    return Step(events, phase_of(ps, core.policy), backoff)


def _pending(quorum: Quorum, provider: str, vote: Vote, tally: Tally, outcome: str) -> list[Event]:
    """`provider.quorum_pending`, once per episode: this site sees it down, the tally does not."""
    if not vote.down or tally.holds_down or provider in quorum.pending:
        return []
    quorum.pending.add(provider)
    return [QuorumPending(provider, outcome, tally.down, tally.needed, tally.live)]


def _follow(core: HealthCore, provider: str, tally: Tally, now: float) -> list[Event]:
    """Turn the shared state of `provider` to what the tally calls for, fanned out to its models
    and pools exactly as a probe's transition is; no events when it is there already."""
    policy = core.policy
    ps = core.state.providers[provider]
    healthy = ps.is_healthy(policy)
    wanted = tally.healthy(healthy)
    if wanted == healthy:
        return []
    events: list[Event] = [
        QuorumDecided(provider, "up" if wanted else "down", tally.down, tally.needed, tally.live)
    ]
    old_reason, went_down_at = ps.down_reason, ps.changed_at
    outcome = _down_outcome(core, provider, tally, now)
    if wanted:
        # Brought back by the sites: as a provider recovered by the rule would be (its score at
        # least the recovery threshold), whatever this site's own probes made of it.
        ps.available = True
        ps.auth_valid = True
        ps.availability_score = max(ps.availability_score, policy.recovery_threshold)
        ps.down_reason = None
    else:
        ps.available = False
        ps.down_reason = str(reason_for(outcome))
    ps.changed_at = now
    core.state.timestamp = now
    fan = FanOut(core.mesh, core.state, now, events, policy)
    detail = f"quorum: {', '.join(tally.down) or 'none'} down of {', '.join(tally.live)}"
    fan.provider_transition(
        provider,
        outcome,
        detail,
        was_healthy=healthy,
        old_reason=old_reason,
        went_down_at=went_down_at,
    )
    ps.active_model_count += fan.active_delta
    core.set_backoff(provider, 0)
    return events


def _down_outcome(core: HealthCore, provider: str, tally: Tally, now: float) -> Outcome:
    """The failing outcome the down-voting sites saw most (ties: the first site by name); a
    site whose view is still down while its last probe succeeded gives none."""
    quorum = core.quorum
    if quorum is None:
        return Outcome.SERVER_ERROR
    votes = dict(quorum.votes.get(provider, {}))
    own = quorum.own_vote(provider, now, core.policy)
    if own is not None:
        votes[quorum.vantage] = own
    seen: list[Outcome] = []
    for site in tally.down:
        raw = votes[site].outcome if site in votes else None
        try:
            outcome = Outcome(raw or "")
        except ValueError:
            continue  # no outcome, or one this version does not know
        if core.policy.effect_of(outcome) in (Effect.FAILURE, Effect.FATAL):
            seen.append(outcome)
    if not seen:
        return Outcome.SERVER_ERROR
    return max(seen, key=lambda o: (seen.count(o), -seen.index(o)))


def _backoff(before: int, phase: Phase, *, healthy: bool, went_down: bool) -> int:
    # Down: the first wait after going down is the base down interval, each failure after it
    # doubles it. Healthy (even with a failure pending): forgotten. Unhealthy but on the way back
    # up: kept, in case it falls back.
    if phase is Phase.DOWN:
        return 0 if went_down else before + 1
    return 0 if healthy else before


def _guarded(
    core: HealthCore,
    provider: str,
    outcome: Outcome,
    detail: str | None,
    *,
    now: float,
    goes_down: bool,
    events: list[Event],
) -> Step | None:
    """The connectivity guard's ruling on one result; a Step when it holds the result.

    A held result is probed again as if down (our network may be out for long), and nothing
    else changes.
    """
    ruling = core.guard.observe(provider, outcome, now, would_go_down=goes_down, fleet=core.fleet)
    if ruling.suspect_ended:
        events.append(NetworkRestored(provider))
    if ruling.suspect_started:
        events.append(NetworkSuspect(provider, outcome.value, len(core.guard.held)))
    if not ruling.hold:
        return None
    events.append(ProbeHeld(provider, outcome.value, detail))
    backoff = core.down_probes.get(provider, 0)
    core.set_backoff(provider, backoff + 1)
    return Step(events, Phase.DOWN, backoff, hold=True, wants_evidence=True)
