"""Running the canary on its own clock, beside the probes.

Off unless the configuration turns it on for a provider (`canary:`) and priced models opt in
(`canary: true`): `canary_plans` finds none otherwise and the daemon never starts the loop.
Each provider's round runs every `canary.every`; what it finds is handed to the daemon
(`record`), which feeds it to the state core like a probe's result and charges its cost.

The day's spend is the provider's own state (`state.spend`), stored before any canary is sent
(`store_spend`), so a restart or a crash loop cannot spend the budget twice. Under replicas
only the provider's owner (`owns`) runs its canary, from the spend its last owner stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from time import monotonic

import httpx
import structlog

from modelmesh_healthd.config import Config
from modelmesh_healthd.config.canary import CanaryConfig
from modelmesh_healthd.daemon.probe_setup import probe_target
from modelmesh_healthd.probes import dialect_of
from modelmesh_healthd.probes.canary import (
    CANARY_KINDS,
    Budget,
    CanaryModel,
    CanaryResult,
    DaySpend,
    Price,
    day_of,
    run_canary,
)
from modelmesh_healthd.state import ProviderState
from modelmesh_healthd.state.spend import spend_today

__all__ = ["CanaryLoop", "CanaryPlan", "canary_plans"]

_log = structlog.get_logger("modelmesh_healthd.canary")


@dataclass(frozen=True, slots=True)
class CanaryPlan:
    """One provider's canary: its settings and the models that opted in with a price."""

    settings: CanaryConfig
    models: tuple[CanaryModel, ...]


def canary_plans(config: Config) -> dict[str, CanaryPlan]:
    """The providers whose canary is on, each with its opted-in, priced models.

    A provider without a `canary:` block, of a kind the canary cannot speak, or disabled, and a
    model without `canary: true` or without a price, get none.
    """
    out: dict[str, CanaryPlan] = {}
    for name, provider in config.providers.items():
        settings = provider.canary
        if settings is None or not provider.enabled or provider.kind not in CANARY_KINDS:
            continue
        models = tuple(
            CanaryModel(
                mid,
                config.upstream_name(mid),
                Price(m.price.input_usd_per_mtok, m.price.output_usd_per_mtok),
            )
            for mid, m in config.models.items()
            if m.provider == name and m.canary and m.price is not None and m.enabled
        )
        if models:
            out[name] = CanaryPlan(settings, models)
    return out


class CanaryLoop:
    """Every provider's canary rounds, each on its own `every`, under its daily budget.

    Args:
        config_of: The configuration now (it may be reloaded).
        client_of: The shared client now (None while there is none).
        record: What the daemon does with a round's result (state, cost, events).
        spend_of: The provider's state, which holds its canary spend (None: not in the state).
        store_spend: Stores the provider's spend durably; True once stored (and still owned).
        owns: Whether this daemon runs the provider's canary (a replica: while it owns it).
        wall_clock: Wall time (the budget's UTC day).
    """

    def __init__(
        self,
        config_of: Callable[[], Config],
        client_of: Callable[[], httpx.AsyncClient | None],
        record: Callable[[str, CanaryResult], None],
        *,
        spend_of: Callable[[str], ProviderState | None],
        store_spend: Callable[[str], Awaitable[bool]],
        owns: Callable[[str], bool],
        wall_clock: Callable[[], float],
    ) -> None:
        self._config_of, self._client_of, self._record = config_of, client_of, record
        self._spend_of, self._store_spend, self._owns = spend_of, store_spend, owns
        self._wall_clock = wall_clock
        self._told: dict[str, int] = {}
        """Provider -> the UTC day this process last logged its budget as exhausted."""
        self._next: dict[str, float] = {}

    def spends(self) -> dict[str, DaySpend]:
        """Today's spend of each provider whose canary this daemon runs (for the metrics)."""
        now = self._wall_clock()
        out: dict[str, DaySpend] = {}
        for name in canary_plans(self._config_of()):
            ps = self._spend_of(name)
            if ps is not None and self._owns(name):
                out[name] = spend_today(ps, now)
        return out

    def budgets(self) -> Mapping[str, Budget]:
        """Each canary provider's daily budget, as configured now."""
        return {
            name: Budget(plan.settings.budget_usd_per_day, plan.settings.budget_tokens_per_day)
            for name, plan in canary_plans(self._config_of()).items()
        }

    async def round(self, name: str, plan: CanaryPlan) -> CanaryResult | None:
        """One round of provider `name`'s canaries (None without a client, without the
        provider in the state, or while another replica owns it)."""
        client = self._client_of()
        spend = self._spend_of(name)
        if client is None or spend is None or not self._owns(name):
            return None
        config = self._config_of()
        target = probe_target(config, name, models=())
        s = plan.settings
        now = self._wall_clock()
        result = await run_canary(
            client,
            target,
            plan.models,
            budget=Budget(s.budget_usd_per_day, s.budget_tokens_per_day),
            spend=spend,
            record=lambda: self._store_spend(name),
            dialect=dialect_of(target.kind),
            stream=s.stream,
            now=now,
        )
        for m in result.models:
            _log.info(
                "canary.completed",
                provider=name,
                model=m.model,
                outcome=str(m.reading.outcome),
                ttft_ms=None if m.ttft is None else round(m.ttft * 1000.0, 1),
                prompt_tokens=m.reading.usage.prompt,
                completion_tokens=m.reading.usage.completion,
                reasoning_tokens=m.reading.usage.reasoning,
                cost_usd=round(m.cost_usd, 8),
                detail=m.reading.detail,
            )
        if result.unrecorded:
            _log.warning("canary.unrecorded", provider=name, models=list(result.unrecorded))
        if result.skipped_for_budget and self._told.get(name) != day_of(now):
            # Once a day per process: a restart says again why its canary does not run.
            self._told[name] = day_of(now)
            _log.warning(
                "canary.budget_exhausted",
                provider=name,
                spent_usd=round(result.spent_usd, 8),
                spent_tokens=result.spent_tokens,
                budget_usd=s.budget_usd_per_day,
                budget_tokens=s.budget_tokens_per_day,
                skipped=list(result.skipped_for_budget),
            )
        self._record(name, result)
        return result

    async def run(self) -> None:
        """Run rounds as they fall due until cancelled; the first round of each provider comes
        one `every` after the start (the probes speak first)."""
        while True:
            plans = canary_plans(self._config_of())
            now = monotonic()
            for name in list(self._next):
                if name not in plans:
                    del self._next[name]
            for name, plan in plans.items():
                self._next.setdefault(name, now + plan.settings.every)
            due = [n for n, at in self._next.items() if at <= now]
            for name in due:
                self._next[name] = now + plans[name].settings.every
                await self.round(name, plans[name])
            wait = min(self._next.values(), default=now + 60.0) - monotonic()
            await asyncio.sleep(max(0.05, min(wait, 60.0)))
