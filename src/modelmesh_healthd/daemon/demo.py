"""`modelmesh-healthd demo` and `check --demo`: the daemon against simulated providers.

The demo's configuration reaches the simulator through `${MODELMESH_DEMO_URL}`, set here to the
simulator's address on a free 127.0.0.1 port, so nothing else listening on the machine is probed.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from modelmesh_healthd.config import Config, load_config
from modelmesh_healthd.daemon.check_command import CheckResult, check_round
from modelmesh_healthd.daemon.demo_files import demo_file
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.simulator.scenario import Scenario, ScenarioStep
from modelmesh_healthd.state import SystemState

__all__ = ["DemoRun", "demo_file", "enabled", "run_check_demo", "run_demo", "timeline"]

_SAYS: Mapping[str, str] = {
    "loading": "answers 503 'loading model': its models stay active while it loads "
    "(provider.loading)",
    "rate_limited": "rate limited: it stays up and is probed again when the wait is over",
    "key_revoked": "its key is revoked: down at once, its models go to standby",
    "unauthorized": "rejects the key: down at once, its models go to standby",
    "insufficient_quota": "out of quota: down at once, its models go to standby",
    "payment_required": "out of credit: down at once, its models go to standby",
    "server_error": "an outage (HTTP 500): down after repeated failures, its models go to standby",
    "overloaded": "overloaded: down if it lasts",
    "hang": "stops answering: down after repeated timeouts",
}


_RECOVERS = "recovers: up again after consecutive successes, its models return (provider.up)"
_ENDS: Mapping[str, str] = {
    "loading": "finishes loading: answers correctly (provider.loaded)",
    "rate_limited": "the rate limit ends (provider.throttle_ended)",
    "healthy": "answers correctly",
    "": "answers correctly",
}


def timeline(scenario: Scenario, duration: float, ending: str) -> list[str]:
    """What the demo will show, and when: one line per scripted step, then `ending`."""
    lines = []
    before: dict[str, str] = {}
    for step in scenario.steps:
        if step.at >= duration:
            break
        behaviour = str(step.behaviour) if step.behaviour is not None else "changed"
        say = _SAYS.get(behaviour, behaviour.replace("_", " "))
        if behaviour == "healthy":
            say = _ENDS.get(before.get(step.provider, ""), _RECOVERS)
        elif behaviour == "rate_limited" and "retry_after" in step.changes:
            wait = f"rate limited (Retry-After {step.changes['retry_after']} s)"
            say = say.replace("rate limited", wait)
        before[step.provider] = behaviour
        lines.append(f"  {step.at:>4g} s  {step.provider:<10} {say}")
    lines.append(f"  {duration:>4g} s  {ending}")
    return lines


class DemoRun:
    """One run of the demo daemon; after `run()`, `state` is the state it ended with."""

    def __init__(
        self, config: Path, scenario: Path, duration: float, store_url: str, *, fresh: bool
    ) -> None:
        self.config, self.scenario, self.duration = config, scenario, duration
        self.store_url, self.fresh = store_url, fresh
        self.state: SystemState | None = None

    async def run(self) -> int:
        """Start the simulator playing the scenario, run the daemon for `duration` seconds.

        Returns:
            The daemon's exit code.
        """
        script = Scenario.load(self.scenario)
        async with Simulator(scenario=script) as sim:
            environ = {**os.environ, "MODELMESH_DEMO_URL": sim.base_url}
            daemon = Daemon(
                load_config(self.config, environ),
                store_url=self.store_url,
                environ=environ,
                fresh=self.fresh,
            )
            timer = asyncio.get_running_loop().call_later(
                self.duration, daemon.request_stop, "demo duration elapsed"
            )
            try:
                return await daemon.run()
            finally:
                timer.cancel()
                self.state = daemon.state


async def run_demo(
    config: Path, scenario: Path, duration: float, store_url: str, *, fresh: bool = True
) -> int:
    """Run the demo daemon (see `DemoRun`); returns its exit code."""
    return await DemoRun(config, scenario, duration, store_url, fresh=fresh).run()


def _opening(scenario: Scenario) -> Iterable[ScenarioStep]:
    return (step for step in scenario.steps if step.at == 0)


async def run_check_demo(
    config: Path, scenario: Path, providers: Iterable[str] | None = None
) -> tuple[Config, str, list[CheckResult]]:
    """One check round of the demo configuration against the simulator at the scenario's start.

    Args:
        config: The demo configuration.
        scenario: The scenario whose providers are simulated; its steps at 0 s are applied
            before probing (nothing later is played).
        providers: The providers to probe (configured ones); None for every enabled one.

    Returns:
        The configuration as loaded, the simulator's base URL, and the results.

    Raises:
        ConfigError: The configuration is invalid.
        ScenarioError: The scenario is.
    """
    script = Scenario.load(scenario)
    async with Simulator(script.build_providers() or None) as sim:
        for step in _opening(script):
            sim.set_behaviour(step.provider, step.behaviour, source="scenario", **step.changes)
        environ = {**os.environ, "MODELMESH_DEMO_URL": sim.base_url}
        loaded = load_config(config, environ)
        names = list(providers) if providers is not None else enabled(loaded)
        return loaded, sim.base_url, await check_round(loaded, names)


def enabled(config: Config) -> list[str]:
    """The configuration's enabled providers that can be probed, in order."""
    return [name for name, cfg in config.providers.items() if cfg.enabled and cfg.probed]
