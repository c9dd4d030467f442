"""The canary wired into the daemon: where its spend is stored, who runs it, what its results do.

`canary.CanaryLoop` runs the rounds and knows nothing of the daemon; this module hands it the
daemon's parts (through `runtime.DaemonRuntime`), and turns a round's result into the core's
step, like a probe's, plus its cost to the day's totals.
"""

from __future__ import annotations

import dataclasses

from modelmesh_healthd.daemon.canary import CanaryLoop
from modelmesh_healthd.daemon.runtime import DaemonRuntime
from modelmesh_healthd.probes.canary import CanaryResult, charge_state
from modelmesh_healthd.state import (
    Outcome,
    ProviderState,
    SystemState,
    latency_step,
    model_latency_step,
    observe,
)
from modelmesh_healthd.state.spend import carry_spend

__all__ = ["canary_loop", "keep_spend", "record_canary", "store_canary_spend"]


def canary_loop(daemon: DaemonRuntime) -> CanaryLoop:
    """The daemon's canary (it sends nothing unless the configuration turns it on)."""

    def spend_of(name: str) -> ProviderState | None:
        # Looked up on the state of the moment: startup and reloads replace the state object.
        return daemon.state.providers.get(name)

    return CanaryLoop(
        lambda: daemon.config,
        lambda: daemon.client,
        lambda name, result: record_canary(daemon, name, result),
        spend_of=spend_of,
        store_spend=lambda name: store_canary_spend(daemon, name),
        owns=daemon.owns,  # under replicas the provider's owner alone spends its budget
        wall_clock=daemon.wall_clock,
    )


def keep_spend(state: SystemState, stored: SystemState | None) -> None:
    """A fresh start forgets health, never the canary's spend (the budget is hard)."""
    if stored is None:
        return
    for name, ps in state.providers.items():
        if name in stored.providers:
            carry_spend(ps, stored.providers[name])


async def store_canary_spend(daemon: DaemonRuntime, name: str) -> bool:
    """Store a provider's canary reservations before they are sent (never overspend).

    True when the store holds them and this daemon still runs the provider's canary (a
    replica whose write was fenced has lost the provider by then). Without a store at all
    (a daemon not started) there is nothing a restart could forget.
    """
    manager = daemon.manager
    if manager is None:
        return True
    manager.touch(name)
    return await manager.sync() and daemon.owns(name)


def record_canary(daemon: DaemonRuntime, name: str, result: CanaryResult) -> None:
    """A canary round: its cost to the totals, its report to the core like a probe's."""
    state = daemon.state
    ps = state.providers.get(name)
    if ps is None:
        return
    if daemon.manager is not None:
        daemon.manager.touch(name)  # the settled spend (lower than reserved) and its totals
    charge_state(ps, state.models, result)
    report = result.report
    if report is None:
        return
    now = daemon.wall_clock()
    policy = daemon.policy
    # Time to first token has its own baseline (a completion is slower than a list); the
    # report then goes to the core without a latency, so the probes' baseline stays theirs.
    outcome, slow = latency_step(
        ps, name, report.outcome, report.latency, now=now, policy=policy, source="ttft"
    )
    report = dataclasses.replace(report, outcome=outcome, latency=None)
    step = observe(daemon.core, name, report, now)
    budget = daemon.config.providers[name].degraded_after
    for m in result.models:
        ms = state.models.get(m.model)
        if ms is not None and m.ttft is not None and m.reading.outcome is Outcome.OK:
            over = budget is not None and m.ttft > budget
            slow += model_latency_step(
                ms, m.model, name, m.ttft, over_budget=over, now=now, policy=policy
            )
    daemon.publish(step.events + slow)
