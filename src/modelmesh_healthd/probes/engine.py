"""Running a probe's requests under its bounds, and turning what happened into a ProbeResult.

A probe is a short plan of `Step`s (most kinds: one request; `local`: `/health` then the
models list). The engine sends them in order under one whole-probe deadline, reads each body up
to the cap, judges each answer with the step's pure judge, and stops at the first answer that is
not ok. Whatever the network or the provider does ends as an outcome; only programming errors
propagate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from time import perf_counter
from types import MappingProxyType

import aiohttp
import httpx

from modelmesh_healthd.probes.classifier.errors import Dialect
from modelmesh_healthd.probes.classifier.exceptions import classify_exception
from modelmesh_healthd.probes.classifier.judges import Judge
from modelmesh_healthd.probes.classifier.replies import Finding, Reply
from modelmesh_healthd.probes.client import CURRENT_CLOCK, PhaseClock
from modelmesh_healthd.probes.result import NO_MODELS, PhaseTimings, ProbeResult
from modelmesh_healthd.probes.target import ProbeTarget
from modelmesh_healthd.state.outcome import Outcome

__all__ = ["Step", "run_steps"]

_OK = Outcome.OK


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
    """

    method: str
    url: str
    headers: Mapping[str, str]
    judge: Judge
    models: tuple[str, ...] = ()
    content: bytes | None = None
    follow_redirects: bool = False
    max_redirects: int = 0


_NETWORK_ERRORS = (httpx.HTTPError, httpx.InvalidURL, OSError, aiohttp.ClientError, EOFError)


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
    request = client.build_request(
        step.method, step.url, headers=step.headers, content=step.content
    )
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


def _model_outcomes(
    target: ProbeTarget, found: set[str], missing: set[str]
) -> Mapping[str, Outcome]:
    if not target.models or not (found or missing):
        return NO_MODELS
    out: dict[str, Outcome] = {}
    for mesh_id, upstream in target.models:
        if upstream in missing:
            out[mesh_id] = Outcome.MODEL_NOT_FOUND
        elif upstream in found:
            out[mesh_id] = Outcome.OK
    return MappingProxyType(out)


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
    finding: Finding | None = None
    found: set[str] = set()
    missing: set[str] = set()
    failure: tuple[Outcome, str] | None = None
    try:
        async with asyncio.timeout(target.timeout):
            for step in steps:
                reply = await _exchange(client, step, target.max_body_bytes, start, progress)
                finding = step.judge(reply, dialect, step.models, wall_clock())
                found.update(finding.found)
                missing.update(finding.missing)
                if finding.outcome is not _OK:
                    break
    except TimeoutError:
        failure = (Outcome.TIMEOUT, f"no complete answer within {target.timeout:g} s")
    except _NETWORK_ERRORS as exc:
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
    outcome, detail = finding.outcome, finding.detail
    if outcome is _OK and target.degraded_after is not None and elapsed > target.degraded_after:
        outcome = Outcome.DEGRADED
        detail = f"slow: {elapsed:.3f} s > {target.degraded_after:g} s"
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
        model_outcomes=_model_outcomes(target, found, missing),
        bytes_read=progress.bytes_read,
    )
