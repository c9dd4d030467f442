"""Sending a provider's canaries: budget first, then one streamed completion per due model.

Nothing here runs unless the caller has a canary configuration for the provider and models that
opted in with a price (`CanaryModel`); a model without a price cannot be built into one. The
runner does no logging and keeps no clock of its own but `perf_counter` for the first token: it
returns what happened (`CanaryResult`) for the daemon to log, count and feed to the state core.

The order is what keeps the budget hard across restarts (`state.spend`): every canary of the
round is reserved at its worst case, the caller stores the reservations (`record`), and only
then is anything sent; each answer then settles its reservation with the real cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from time import perf_counter
from types import MappingProxyType

import httpx

from modelmesh_healthd.probes.canary.plan import (
    MODEL_ROUTED,
    CanaryRequest,
    Price,
    build_request,
)
from modelmesh_healthd.probes.canary.reading import CanaryReading, Usage, read_answer
from modelmesh_healthd.probes.classifier import Dialect, classify_exception
from modelmesh_healthd.probes.engine import MODEL_SCOPED
from modelmesh_healthd.probes.result import ProbeResult
from modelmesh_healthd.probes.target import ProbeTarget
from modelmesh_healthd.state.model import ModelState
from modelmesh_healthd.state.outcome import Outcome
from modelmesh_healthd.state.provider import ProviderState
from modelmesh_healthd.state.spend import Budget, Reservation, release, reserve, settle, spend_today

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
        unrecorded: Models not sent because their reservation could not be stored first.
        report: For the state core, like a probe's (`None` when nothing was sent): the
            provider's outcome, the slowest first-token latency, per-model outcomes.
        spent_usd: Today's spend after this round.
        spent_tokens: Today's tokens after this round.
    """

    models: tuple[ModelCanary, ...] = ()
    skipped_for_budget: tuple[str, ...] = ()
    exhausted_now: bool = False
    unrecorded: tuple[str, ...] = ()
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
    req: CanaryRequest,
    *,
    dialect: Dialect,
    now: float,
) -> tuple[CanaryReading, float | None, bool]:
    """(reading, seconds to the first token, whether the request was answered with 2xx)."""
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
        status,
        headers,
        chunks,
        kind=target.kind,
        dialect=dialect,
        stream=req.stream,
        now=now,
        model=req.model if target.kind in MODEL_ROUTED else None,
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


async def _stored(record: Callable[[], Awaitable[bool]]) -> bool:
    try:
        return await record()
    except Exception:  # noqa: BLE001 - a store fault means "not stored": nothing is sent
        return False


async def run_canary(
    client: httpx.AsyncClient,
    target: ProbeTarget,
    models: tuple[CanaryModel, ...],
    *,
    budget: Budget,
    spend: ProviderState,
    record: Callable[[], Awaitable[bool]],
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
        spend: The provider's state, whose canary record is today's spend (mutated: reserved
            at each canary's worst case, then settled with its real cost).
        record: Stores `spend` durably; True once it is stored. Called after the round's
            reservations and before anything is sent: when it says False (or raises), nothing
            is sent and the reservations are given back.
        dialect: The kind's error traps.
        stream: Ask for server-sent events and time the first token.
        now: Wall time (the budget's day; Retry-After dates).

    Returns:
        The round's result. Never raises for network, store or provider behaviour.
    """
    skipped: list[str] = []
    was_exhausted = spend_today(spend, now).exhausted
    due: list[tuple[CanaryModel, CanaryRequest, Reservation]] = []
    for model in models:
        req = build_request(target, model.upstream, stream=stream)
        if req is None:
            continue
        usd, tokens = req.worst_case(model.price)
        held = reserve(spend, budget, usd, tokens, now)
        if held is None:
            skipped.append(model.mesh_id)
        else:
            due.append((model, req, held))
    exhausted_now = spend_today(spend, now).exhausted and not was_exhausted
    if due and not await _stored(record):
        for _, _, held in due:
            release(spend, held)
        today = spend_today(spend, now)
        return CanaryResult(
            skipped_for_budget=tuple(skipped),
            exhausted_now=exhausted_now,
            unrecorded=tuple(m.mesh_id for m, _, _ in due),
            spent_usd=today.usd,
            spent_tokens=today.tokens,
        )
    done: list[ModelCanary] = []
    for model, req, held in due:
        reading, ttft, answered = await _one(client, target, req, dialect=dialect, now=now)
        used = reading.usage
        if answered and used == Usage():
            # Answered without saying what it billed: count the worst case (the budget is hard).
            cost, spent = held.usd, held.tokens
        else:
            cost, spent = model.price.cost(used.prompt, used.completion), used.total
        settle(spend, held, cost, spent)
        done.append(ModelCanary(model.mesh_id, reading, ttft, cost, spent))
    today = spend_today(spend, now)
    return CanaryResult(
        models=tuple(done),
        skipped_for_budget=tuple(skipped),
        exhausted_now=exhausted_now,
        report=_report(target, done),
        spent_usd=today.usd,
        spent_tokens=today.tokens,
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
