"""One probe round over the configured providers, for `modelmesh-healthd check`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from modelmesh_healthd.config import Config
from modelmesh_healthd.daemon.probe_setup import client_options, probe_target
from modelmesh_healthd.probes import ProbeResult, build_client, probe
from modelmesh_healthd.state import Effect, HealthPolicy, Outcome

__all__ = ["CheckResult", "check_round", "keeps_models_active"]


def keeps_models_active(outcome: Outcome, policy: HealthPolicy) -> bool:
    """Would the daemon leave a healthy provider's models active after this one answer?

    `check` and the daemon judge alike: a success, a neutral answer (a rate limit: the provider
    is up, it only asks us to slow down) and `loading` while the policy grants a loading grace
    keep the models; a failure does not (the daemon needs several, `check` has only this one).
    """
    effect = policy.effect_of(outcome)
    if effect is Effect.LOADING:
        return policy.loading_grace > 0
    return effect in (Effect.SUCCESS, Effect.NEUTRAL)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One provider's verdict in a check round.

    Attributes:
        result: The probe's result.
        healthy: The answer keeps the provider's models active (see `keeps_models_active`) and
            every checked model exists.
    """

    result: ProbeResult
    healthy: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (`check --json`)."""
        return {**self.result.to_dict(), "healthy": self.healthy}


def verdict(result: ProbeResult, policy: HealthPolicy) -> CheckResult:
    """Judge one probe result under `policy`."""
    models_ok = all(o is Outcome.OK for o in result.model_outcomes.values())
    return CheckResult(result, keeps_models_active(Outcome(result.outcome), policy) and models_ok)


async def check_round(config: Config, providers: Iterable[str]) -> list[CheckResult]:
    """Probe each provider once, concurrently (bounded by `daemon.concurrency`).

    Returns:
        One result per provider, in the order given.
    """
    names = list(providers)
    policy = config.policy()
    limit = asyncio.Semaphore(config.daemon.concurrency)
    async with build_client(client_options(config)) as client:

        async def one(name: str) -> CheckResult:
            async with limit:
                return verdict(await probe(client, probe_target(config, name)), policy)

        return list(await asyncio.gather(*(one(n) for n in names)))
