"""Sending a provider's canaries: budget first, then one streamed completion per due model.

Nothing here runs unless the caller has a canary configuration for the provider and models that
opted in with a price (`CanaryModel`); a model without a price cannot be built into one. The
runner does no logging and keeps no clock of its own but `perf_counter` for the first token: it
returns what happened (`CanaryResult`) for the daemon to log, count and feed to the state core.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from time import perf_counter
from types import MappingProxyType

import httpx

from modelmesh_healthd.probes.canary.budget import Budget, Ledger
from modelmesh_healthd.probes.canary.plan import Price, build_request
from modelmesh_healthd.probes.canary.reading import CanaryReading, Usage, read_answer
from modelmesh_healthd.probes.classifier import Dialect, classify_exception
from modelmesh_healthd.probes.engine import MODEL_SCOPED
from modelmesh_healthd.probes.result import ProbeResult
from modelmesh_healthd.probes.target import ProbeTarget
from modelmesh_healthd.state.model import ModelState
from modelmesh_healthd.state.outcome import Outcome
from modelmesh_healthd.state.provider import ProviderState

__all__ = ["CanaryModel", "CanaryResult", "ModelCanary", "charge_state", "run_canary"]

_NETWORK_ERRORS = (httpx.HTTPError, httpx.InvalidURL, OSError, EOFError)


@dataclass(frozen=True, slots=True)
class CanaryModel:
    """One model that opted in to the canary.

    Attributes:
        mesh_id: The mesh model id.
        upstream: The provider's name for it.
        price: Its price (a model without one never gets a canary).
    """

    mesh_id: str
    upstream: str
    price: Price


@dataclass(frozen=True, slots=True)
class ModelCanary:
    """One model's canary.

    Attributes:
        model: The mesh model id.
        reading: What its answer said.
        ttft: Seconds to the first generated token (streamed), else to the whole answer.
        cost_usd: What it cost by the price table.
        tokens: Tokens it used (prompt + completion).
    """

    model: str
    reading: CanaryReading
    ttft: float | None
    cost_usd: float
    tokens: int


@dataclass(frozen=True, slots=True)
class CanaryResult:
    """One provider's canary round.

    Attributes:
        models: Each model's canary, in order (the ones sent).
        skipped_for_budget: Models not sent because the day's budget could not cover them.
        exhausted_now: The budget refused its first canary of the day in this round.
        report: For the state core, like a probe's (`None` when nothing was sent): the
            provider's outcome, the slowest first-token latency, per-model outcomes.
        spent_usd: Today's spend after this round.
        spent_tokens: Today's tokens after this round.
    """

    models: tuple[ModelCanary, ...] = ()
    skipped_for_budget: tuple[str, ...] = ()
    exhausted_now: bool = False
    report: ProbeResult | None = None
    spent_usd: float = 0.0
    spent_tokens: int = 0


async def _send(
    client: httpx.AsyncClient,
    target: ProbeTarget,
    req_url: str,
    headers: Mapping[str, str],
    content: bytes,
) -> tuple[int, httpx.Headers, list[tuple[float, bytes]], float]:
    start = perf_counter()
    chunks: list[tuple[float, bytes]] = []
    size = 0
    request = client.build_request("POST", req_url, headers=dict(headers), content=content)
    response = await client.send(request, stream=True)
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            chunks.append((perf_counter() - start, chunk))
            if size > target.max_body_bytes:
                break
    finally:
        await response.aclose()
    return response.status_code, response.headers, chunks, perf_counter() - start


async def _one(
    client: httpx.AsyncClient,
    target: ProbeTarget,
    model: CanaryModel,
    *,
    stream: bool,
    dialect: Dialect,
    now: float,
) -> tuple[CanaryReading, float | None, bool]:
    """(reading, seconds to the first token, whether the request was answered with 2xx)."""
    req = build_request(target, model.upstream, stream=stream)
    assert req is not None  # the caller checked the kind
    try:
        async with asyncio.timeout(target.timeout):
            status, headers, chunks, elapsed = await _send(
                client, target, req.url, req.headers, req.content
            )
    except TimeoutError:
        return (
            CanaryReading(Outcome.TIMEOUT, f"canary: no answer within {target.timeout:g} s"),
            None,
            False,
        )
    except _NETWORK_ERRORS as exc:
        outcome, why = classify_exception(exc, got_response=False)
        return CanaryReading(outcome, f"canary: {why}"), None, False
    reading = read_answer(
        status, headers, chunks, kind=target.kind, dialect=dialect, stream=stream, now=now
    )
    ttft = reading.first_token_at if reading.first_token_at is not None else elapsed
    return reading, ttft, 200 <= status <= 299


def _report(target: ProbeTarget, done: list[ModelCanary]) -> ProbeResult | None:
    if not done:
        return None
    model_outcomes: dict[str, Outcome] = {}
    provider = Outcome.OK
    details: list[str] = []
    for m in done:
        o = m.reading.outcome
        if o is Outcome.OK or o in MODEL_SCOPED:
            model_outcomes[m.model] = o
        elif provider is Outcome.OK:
            provider = o  # the first failure that is not one model's own is the provider's
        if m.reading.detail:
            details.append(f"model {m.model}: {m.reading.detail}")
    if provider is Outcome.OK and any(
        o is Outcome.MODEL_NOT_FOUND for o in model_outcomes.values()
    ):
        provider = Outcome.MODEL_NOT_FOUND
    ttfts = [m.ttft for m in done if m.ttft is not None and m.reading.outcome is Outcome.OK]
    latency = max(ttfts) if ttfts else None
    if (
        provider is Outcome.OK
        and latency is not None
        and target.degraded_after is not None
        and latency > target.degraded_after
    ):
        provider = Outcome.DEGRADED
    return ProbeResult(
        provider=target.name,
        kind=target.kind,
        outcome=provider,
        latency=latency,
        elapsed=sum(m.ttft or 0.0 for m in done),
        detail="; ".join(details)[:240] or None,
        model_outcomes=MappingProxyType(model_outcomes),
    )


async def run_canary(
    client: httpx.AsyncClient,
    target: ProbeTarget,
    models: tuple[CanaryModel, ...],
    *,
    budget: Budget,
    ledger: Ledger,
    dialect: Dialect,
    stream: bool,
    now: float,
) -> CanaryResult:
    """Send one canary per model, each only if its worst case fits in today's budget.

    Args:
        client: The shared client.
        target: The provider (key, base URL, deadline per canary, body cap).
        models: The models due, each with its price.
        budget: The provider's daily budget.
        ledger: Today's spend (mutated: charged with each canary's real cost).
        dialect: The kind's error traps.
        stream: Ask for server-sent events and time the first token.
        now: Wall time (the budget's day; Retry-After dates).

    Returns:
        The round's result. Never raises for network or provider behaviour.
    """
    done: list[ModelCanary] = []
    skipped: list[str] = []
    was_exhausted = ledger.exhausted
    for model in models:
        req = build_request(target, model.upstream, stream=stream)
        if req is None:
            continue
        usd, tokens = req.worst_case(model.price)
        if not ledger.allows(budget, usd, tokens, now):
            ledger.exhausted = True
            skipped.append(model.mesh_id)
            continue
        reading, ttft, answered = await _one(
            client, target, model, stream=stream, dialect=dialect, now=now
        )
        used = reading.usage
        if answered and used == Usage():
            # Answered without saying what it billed: count the worst case (the budget is hard).
            cost, spent = usd, tokens
        else:
            cost, spent = model.price.cost(used.prompt, used.completion), used.total
        ledger.charge(cost, spent, now)
        done.append(ModelCanary(model.mesh_id, reading, ttft, cost, spent))
    return CanaryResult(
        models=tuple(done),
        skipped_for_budget=tuple(skipped),
        exhausted_now=ledger.exhausted and not was_exhausted,
        report=_report(target, done),
        spent_usd=ledger.usd,
        spent_tokens=ledger.tokens,
    )


def charge_state(ps: ProviderState, models: Mapping[str, ModelState], result: CanaryResult) -> None:
    """Add a round's cost and tokens to the provider's `total_cost` / `total_quota_used` and to
    each model's `cost_accumulated` / `tokens_used`."""
    for m in result.models:
        ps.total_cost += m.cost_usd
        ps.total_quota_used += m.tokens
        ms = models.get(m.model)
        if ms is not None:
            ms.cost_accumulated += m.cost_usd
            ms.tokens_used += m.tokens
