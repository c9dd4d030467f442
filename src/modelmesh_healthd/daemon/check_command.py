"""One probe round over the configured providers, for `modelmesh-healthd check`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from modelmesh_healthd.config import Config
from modelmesh_healthd.daemon.probe_setup import client_options, probe_target
from modelmesh_healthd.probes import ProbeResult, build_client, probe
from modelmesh_healthd.state import Outcome

__all__ = ["HEALTHY_OUTCOMES", "CheckResult", "check_round"]

HEALTHY_OUTCOMES = frozenset({Outcome.OK, Outcome.DEGRADED, Outcome.RATE_LIMITED})
"""One probe with these outcomes leaves a provider's models active (a rate-limited provider is
up; it only asks us to slow down)."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One provider's verdict in a check round."""

    result: ProbeResult

    @property
    def healthy(self) -> bool:
        """Answered correctly (or only rate limited) and every checked model exists."""
        return self.result.outcome in HEALTHY_OUTCOMES and all(
            o is Outcome.OK for o in self.result.model_outcomes.values()
        )

    def to_dict(self) -> dict[str, Any]:
        return {**self.result.to_dict(), "healthy": self.healthy}


async def check_round(config: Config, providers: Iterable[str]) -> list[CheckResult]:
    """Probe each provider once, concurrently (bounded by `daemon.concurrency`).

    Returns:
        One result per provider, in the order given.
    """
    names = list(providers)
    limit = asyncio.Semaphore(config.daemon.concurrency)
    async with build_client(client_options(config)) as client:

        async def one(name: str) -> CheckResult:
            async with limit:
                return CheckResult(await probe(client, probe_target(config, name)))

        return list(await asyncio.gather(*(one(n) for n in names)))
