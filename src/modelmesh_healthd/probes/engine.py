"""Running a probe's requests under its bounds, and turning what happened into a ProbeResult.

A probe is a short plan of `Step`s, a ladder, cheapest rung first (most kinds: one request;
`local`: `/health` then the models list; `anthropic` with models: the list, then one free
`count_tokens` per model). The engine sends them in order under one whole-probe deadline, reads
each body up to the cap, judges each answer with the step's pure judge, and stops at the first
provider-level answer that is not ok. A rung that names one model (`Step.model`) judges that
model alone: its "not found", "overloaded" or "loading" lands in that model's outcome and the
ladder goes on with the next model. Whatever the network or the provider does ends as an
outcome; only programming errors propagate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from time import perf_counter
from types import MappingProxyType

import httpx

from modelmesh_healthd.probes.classifier.errors import Dialect
from modelmesh_healthd.probes.classifier.exceptions import classify_exception, network_errors
from modelmesh_healthd.probes.classifier.foreign import not_the_api
from modelmesh_healthd.probes.classifier.judges import Judge
from modelmesh_healthd.probes.classifier.replies import Finding, Reply
from modelmesh_healthd.probes.client import CURRENT_CLOCK, PhaseClock, probe_request
from modelmesh_healthd.probes.result import NO_MODELS, PhaseTimings, ProbeResult
from modelmesh_healthd.probes.target import ProbeTarget
from modelmesh_healthd.state.outcome import Outcome

__all__ = ["MODEL_SCOPED", "RUNG_CONCURRENCY", "Step", "run_steps"]

_OK = Outcome.OK

MODEL_SCOPED: frozenset[Outcome] = frozenset(
    {Outcome.MODEL_NOT_FOUND, Outcome.OVERLOADED, Outcome.LOADING}
)
"""Outcomes a model's own rung gives that model alone: its siblings and the provider stay."""


@dataclass(frozen=True, slots=True)
class Step:
    """One request of a probe and the judge of its answer.

    Attributes:
        method: HTTP method.
        url: Full URL (no secrets in it: keys travel in headers).
        headers: Request headers, secrets included; never shown.
        judge: Pure judge of the answer.
        models: Upstream model names this answer is checked for.
        content: Request body.
        follow_redirects: Follow 3xx answers, up to `max_redirects` hops.
        max_redirects: See above.
        model: The upstream model this rung is about alone (a per-model rung such as Anthropic's
            `count_tokens`), or None for a rung about the provider. A per-model rung is skipped
            when an earlier rung found its model missing.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    judge: Judge
    models: tuple[str, ...] = ()
    content: bytes | None = None
    follow_redirects: bool = False
    max_redirects: int = 0
    model: str | None = None


def _scrub(text: str | None, secrets: tuple[str, ...]) -> str | None:
    """One line of at most 240 characters, with every secret value replaced by `***`."""
    if text is None:
        return None
    text = " ".join(text.split())[:240]
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


# --- one exchange --------------------------------------------------------------------


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return a.scheme == b.scheme and a.host == b.host and a.port == b.port


class _Progress:
    """What the exchange got so far (read when a failure cuts it short)."""

    __slots__ = ("body_started", "bytes_read", "got_response", "status", "transfer", "ttfb")

    def __init__(self) -> None:
        self.got_response = False
        self.body_started = 0.0
        self.status: int | None = None
        self.ttfb: float | None = None
        self.transfer = 0.0
        self.bytes_read = 0


async def _exchange(
    client: httpx.AsyncClient, step: Step, cap: int, start: float, p: _Progress
) -> Reply:
    request = probe_request(client, step.method, step.url, step.headers, step.content)
    hops = 0
    while True:
        p.got_response = False
        response = await client.send(request, stream=True)
        t_headers = perf_counter()
        p.got_response, p.status, p.ttfb = True, response.status_code, t_headers - start
        p.body_started = t_headers
        try:
            nxt = response.next_request
            if nxt is not None and step.follow_redirects and hops < step.max_redirects:
                hops += 1
                if not _same_origin(nxt.url, request.url):
                    # httpx drops only Authorization across origins; our keys travel in other
                    # headers too (x-api-key, api-key, custom ones), so drop all of ours.
                    for name in step.headers:
                        nxt.headers.pop(name, None)
                request = nxt
                continue
            chunks: list[bytes] = []
            size = 0
            truncated = False
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    chunks.append(chunk[: len(chunk) - (size - cap)])
                    truncated = True
                    break
                chunks.append(chunk)
        finally:
            p.bytes_read += response.num_bytes_downloaded
            await response.aclose()
        p.transfer += perf_counter() - t_headers
        p.body_started = 0.0
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return Reply(response.status_code, response.headers, body, truncated)


# --- the probe -------------------------------------------------------------------------


class _Ladder:
    """What the rungs found out about the models, and the provider-level finding so far."""

    __slots__ = ("finding", "found", "missing", "notes", "own")

    def __init__(self) -> None:
        self.finding: Finding | None = None
        self.found: set[str] = set()
        self.missing: set[str] = set()
        self.own: dict[str, Outcome] = {}  # models whose own rung said overloaded or loading
        self.notes: dict[str, str | None] = {}

    def skips(self, step: Step) -> bool:
        """A model's rung is pointless once an earlier rung found the model missing."""
        return step.model is not None and step.model in self.missing

    def take(self, step: Step, judged: Finding) -> bool:
        """Record one rung's finding; True when the ladder goes on."""
        self.found.update(judged.found)
        self.missing.update(judged.missing)
        if step.model is not None and (judged.outcome is _OK or judged.outcome in MODEL_SCOPED):
            if judged.outcome is not _OK:
                # This model's trouble, not the provider's: note it and go on.
                self.found.discard(step.model)
                if judged.outcome is not Outcome.MODEL_NOT_FOUND:
                    self.own[step.model] = judged.outcome
                self.notes[step.model] = judged.detail
            if self.finding is None:
                self.finding = Finding(_OK, headroom=judged.headroom)
            return True
        self.finding = judged
        # A missing model is that model's: the provider answered, so the ladder goes on.
        return judged.outcome is _OK or judged.outcome is Outcome.MODEL_NOT_FOUND

    def verdict(self, finding: Finding) -> tuple[Outcome, str | None]:
        """The provider-level outcome and detail, the models judged apart named in it."""
        outcome, detail = finding.outcome, finding.detail
        if outcome is _OK and self.missing:  # missing by a model's own rung, after an ok list
            outcome = Outcome.MODEL_NOT_FOUND
            detail = ("model not found: " + ", ".join(sorted(self.missing)))[:200]
        if self.own and outcome in (_OK, Outcome.MODEL_NOT_FOUND):
            own = "; ".join(
                f"model {m}: {self.notes.get(m) or self.own[m]}" for m in sorted(self.own)
            )
            detail = f"{detail}; {own}" if detail else own
        return outcome, detail

    def model_outcomes(self, target: ProbeTarget) -> Mapping[str, Outcome]:
        """Mesh model id -> outcome, for the configured models some rung judged."""
        if not target.models or not (self.found or self.missing or self.own):
            return NO_MODELS
        out: dict[str, Outcome] = {}
        for mesh_id, upstream in target.models:
            if upstream in self.missing:
                out[mesh_id] = Outcome.MODEL_NOT_FOUND
            elif upstream in self.own:
                out[mesh_id] = self.own[upstream]
            elif upstream in self.found:
                out[mesh_id] = Outcome.OK
        return MappingProxyType(out)


RUNG_CONCURRENCY = 4
"""Per-model rungs of one probe in flight at once: a provider with many models is asked in a
few round trips rather than one per model (the whole probe has one deadline)."""


async def _model_rungs(
    client: httpx.AsyncClient,
    target: ProbeTarget,
    rungs: tuple[Step, ...],
    *,
    dialect: Dialect,
    start: float,
    progress: _Progress,
    wall_clock: Callable[[], float],
) -> list[tuple[Step, Finding, int | None]]:
    """Send the per-model rungs, a few at a time; (step, finding, status) in plan order.

    A network failure of any rung ends them all and propagates, as one of the front door's
    would (the provider's connection, not one model, failed).
    """
    limit = asyncio.Semaphore(RUNG_CONCURRENCY)

    async def one(step: Step) -> tuple[Step, Finding, int | None]:
        async with limit:
            own = _Progress()
            try:
                reply = await _exchange(client, step, target.max_body_bytes, start, own)
            finally:
                progress.bytes_read += own.bytes_read
                progress.got_response = progress.got_response or own.got_response
            finding = not_the_api(
                reply, target.kind, step.judge(reply, dialect, step.models, wall_clock())
            )
            return step, finding, own.status

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(step)) for step in rungs]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


async def run_steps(
    client: httpx.AsyncClient,
    target: ProbeTarget,
    steps: tuple[Step, ...],
    dialect: Dialect,
    *,
    wall_clock: Callable[[], float] = time.time,
) -> ProbeResult:
    """Run a probe plan against `target` and classify the result.

    Args:
        client: The shared client from `build_client`.
        target: What is probed (deadline, body cap, secrets to keep out of the result).
        steps: The requests, in order; the first answer that is not ok ends the probe.
        dialect: The kind's error traps, handed to each step's judge.
        wall_clock: Wall time, for Retry-After dates.

    Returns:
        The ProbeResult. Never raises for network or provider behaviour.
    """
    clock = PhaseClock()
    token = CURRENT_CLOCK.set(clock)
    progress = _Progress()
    start = perf_counter()
    ladder = _Ladder()
    failure: tuple[Outcome, str] | None = None
    try:
        async with asyncio.timeout(target.timeout):
            go_on = True
            for step in (s for s in steps if s.model is None):
                reply = await _exchange(client, step, target.max_body_bytes, start, progress)
                seen = not_the_api(
                    reply, target.kind, step.judge(reply, dialect, step.models, wall_clock())
                )
                go_on = ladder.take(step, seen)
                if not go_on:
                    break
            rungs = tuple(s for s in steps if s.model is not None and not ladder.skips(s))
            if go_on and rungs:
                judged = await _model_rungs(
                    client,
                    target,
                    rungs,
                    dialect=dialect,
                    start=start,
                    progress=progress,
                    wall_clock=wall_clock,
                )
                for step, finding_of_rung, status in judged:
                    if not ladder.take(step, finding_of_rung):
                        progress.status = status  # the provider's failure is this rung's answer
                        break
    except TimeoutError:
        failure = (Outcome.TIMEOUT, f"no complete answer within {target.timeout:g} s")
    except network_errors() as exc:  # evaluated only when something was raised
        failure = classify_exception(exc, got_response=progress.got_response)
    finally:
        CURRENT_CLOCK.reset(token)
    elapsed = perf_counter() - start
    if progress.body_started:  # cut short while reading a body: that time was transfer
        progress.transfer += start + elapsed - progress.body_started
    timings = PhaseTimings(
        clock.connect,
        clock.tls,
        progress.ttfb,
        progress.transfer if progress.ttfb is not None else None,
    )
    finding = ladder.finding
    if failure is not None or finding is None:
        failed, why = failure or (Outcome.PROTOCOL_ERROR, "no request made")
        return ProbeResult(
            provider=target.name,
            kind=target.kind,
            outcome=failed,
            status=progress.status,
            elapsed=elapsed,
            timings=timings,
            detail=_scrub(why, target.secrets()),
            bytes_read=progress.bytes_read,
        )
    outcome, detail = ladder.verdict(finding)
    if outcome is _OK and target.degraded_after is not None and elapsed > target.degraded_after:
        outcome = Outcome.DEGRADED
        slow = f"slow: {elapsed:.3f} s > {target.degraded_after:g} s"
        detail = f"{slow}; {detail}" if detail else slow
    return ProbeResult(
        provider=target.name,
        kind=target.kind,
        outcome=outcome,
        status=progress.status,
        latency=elapsed,
        elapsed=elapsed,
        timings=timings,
        retry_after=finding.retry_after,
        headroom=finding.headroom,
        detail=_scrub(detail, target.secrets()) if detail is not None else None,
        model_outcomes=ladder.model_outcomes(target),
        bytes_read=progress.bytes_read,
    )
