"""Feedback: the outcome of every request a ModelMesh router sends, reported to the daemon.

Two supported points of modelmesh-lite 0.1.1 are hooked, nothing is patched inside its classes:

* the mesh's `event_emitter` (`ModelMesh.event_emitter.on(None, handler)`): `request.routed`
  starts an attempt, `request.success` / `request.failure` ends it. An attempt's start and end run
  in the same asyncio task, so the pair is matched per task, which keeps concurrent requests apart
  and gives the latency;
* each provider connector's `report_usage(model_id, usage)` (part of the `ProviderConnector`
  interface, called by the connector after every successful completion): tokens, and the cost
  when the connector's model catalogue has pricing (`get_pricing`).

Reports queue in memory (bounded: the oldest are dropped first, and counted) until the attach
loop sends them to the daemon in batches (`ReportSender`, `POST /v1/reports`).
"""

from __future__ import annotations

import asyncio
import collections
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["Feedback", "Report", "ReportSender", "outcome_of_error"]

_HTTP_STATUS = re.compile(r"\bHTTP(?: Error)? (\d{3})\b|\bstatus(?: code)?[ :=]+(\d{3})\b", re.I)


def outcome_of_error(text: str) -> str:
    """Classify a failed request's error text like a probe outcome.

    modelmesh-lite's connectors raise urllib's errors (`HTTP Error 500: ...`,
    `<urlopen error [Errno 111] Connection refused>`, `timed out`); their text is all the router's
    failure event carries.
    """
    match = _HTTP_STATUS.search(text)
    if match:
        status = int(match.group(1) or match.group(2))
        if status == 429:
            return "rate_limited"
        if status in (401, 403):
            return "auth_invalid"
        if status == 402:
            return "quota_exhausted"
        if status == 404:
            return "model_not_found"
        if status in (503, 529):
            return "overloaded"
        if status >= 500:
            return "server_error"
        return "protocol_error"
    lowered = text.lower()
    if "timed out" in lowered or "timeout" in lowered:
        return "timeout"
    if any(w in lowered for w in ("refused", "reset", "urlopen error", "unreachable", "name or")):
        return "connect_error"
    return "protocol_error"


@dataclass(frozen=True, slots=True)
class Report:
    """One request's outcome as the router saw it.

    Attributes:
        model: Model id (the ModelMesh model key, the daemon's model name).
        provider: Provider (connector) id, when known.
        outcome: Outcome class (`ok` or a failure class of `outcome_of_error`).
        at: Unix time at which the request finished.
        latency: Seconds from routing to the answer, when known.
        tokens: Total tokens the answer used (0 when unknown or failed).
        cost: Cost of the request when the connector knows the model's pricing.
    """

    model: str
    provider: str | None
    outcome: str
    at: float
    latency: float | None = None
    tokens: int = 0
    cost: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The report as `POST /v1/reports` takes it."""
        return {
            "model": self.model,
            "provider": self.provider,
            "outcome": self.outcome,
            "at": self.at,
            "latency": self.latency,
            "tokens": self.tokens,
            "cost": self.cost,
        }


class _Attempt:
    __slots__ = ("cost", "model", "provider", "started", "tokens")

    def __init__(self, model: str, provider: str | None, started: float) -> None:
        self.model, self.provider, self.started = model, provider, started
        self.tokens = 0
        self.cost: float | None = None


class Feedback:
    """Turns a ModelMesh's request events into `Report`s.

    Args:
        mesh: The `ModelMesh` whose requests to report.
        max_queue: Reports kept while the daemon cannot be reached; the oldest go first.
        clock: Unix time (for `Report.at`).
        monotonic: Monotonic time (for latencies).
    """

    def __init__(
        self,
        mesh: Any,
        *,
        max_queue: int = 10_000,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._mesh = mesh
        self._clock, self._mono = clock, monotonic
        self._queue: collections.deque[Report] = collections.deque(maxlen=max_queue)
        self._attempts: dict[tuple[int, int], _Attempt] = {}
        self._wrapped: list[tuple[Any, bool, Any]] = []
        self._lock = threading.Lock()
        self.dropped = 0
        """Reports lost to a full queue or a failed send."""

    # --- install ---------------------------------------------------------------------------

    def install(self) -> None:
        """Subscribe to the mesh's events and wrap each provider's `report_usage`."""
        self._mesh.event_emitter.on(None, self._on_event)
        for connector_id, provider in self._mesh.providers.items():
            original = getattr(provider, "report_usage", None)
            if original is None:
                continue
            own = "report_usage" in vars(provider)
            provider.report_usage = self._usage_hook(connector_id, provider, original)
            self._wrapped.append((provider, own, original))

    def uninstall(self) -> None:
        """Undo `install`."""
        self._mesh.event_emitter.off(None, self._on_event)
        for provider, own, original in self._wrapped:
            if own:
                provider.report_usage = original
            else:
                del provider.report_usage
        self._wrapped.clear()

    # --- the queue -------------------------------------------------------------------------

    def drain(self, limit: int) -> list[Report]:
        """Take up to `limit` queued reports, oldest first."""
        out: list[Report] = []
        with self._lock:
            while self._queue and len(out) < limit:
                out.append(self._queue.popleft())
        return out

    def pending(self) -> int:
        """Reports waiting to be sent."""
        return len(self._queue)

    def _put(self, report: Report) -> None:
        with self._lock:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(report)

    # --- hooks -----------------------------------------------------------------------------

    @staticmethod
    def _task_key() -> tuple[int, int]:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        return threading.get_ident(), id(task)

    def _on_event(self, event: Any) -> None:
        kind = getattr(getattr(event, "type", None), "value", None)
        data = getattr(event, "data", {}) or {}
        model = data.get("model_id")
        if not isinstance(model, str):
            return
        key = self._task_key()
        if kind == "request.routed":
            self._attempts[key] = _Attempt(model, data.get("provider_id"), self._mono())
        elif kind in ("request.success", "request.failure"):
            attempt = self._attempts.pop(key, None)
            if attempt is not None and attempt.model != model:
                attempt = None
            ok = kind == "request.success"
            self._put(
                Report(
                    model=model,
                    provider=data.get("provider_id") or self._provider_of(model, attempt),
                    outcome="ok" if ok else outcome_of_error(str(data.get("error", ""))),
                    at=self._clock(),
                    latency=None if attempt is None else max(0.0, self._mono() - attempt.started),
                    tokens=0 if attempt is None else attempt.tokens,
                    cost=None if attempt is None else attempt.cost,
                )
            )

    def _provider_of(self, model: str, attempt: _Attempt | None) -> str | None:
        if attempt is not None and attempt.provider:
            return attempt.provider
        for pool in self._mesh.pools.values():
            for m in pool.models:
                if m.model_id == model:
                    return str(m.provider_id)
        return None

    def _usage_hook(self, connector_id: str, provider: Any, original: Any) -> Any:
        def report_usage(model_id: str, usage: Any) -> Any:
            result = original(model_id, usage)
            attempt = self._attempts.get(self._task_key())
            if attempt is not None and attempt.provider in (None, connector_id):
                attempt.tokens += int(getattr(usage, "total_tokens", 0) or 0)
                attempt.cost = _cost(provider, model_id, usage)
            return result

        return report_usage


def _cost(provider: Any, model_id: str, usage: Any) -> float | None:
    try:
        pricing = provider.get_pricing(model_id)
    except Exception:  # noqa: BLE001 - no pricing in the connector's catalogue: cost unknown
        return None
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    return (
        prompt / 1000.0 * float(pricing.input_per_1k_tokens)
        + completion / 1000.0 * float(pricing.output_per_1k_tokens)
        + float(pricing.per_request)
    )


class ReportSender:
    """Sends batches of reports to the daemon's admin API.

    Args:
        admin_url: The daemon's admin base URL (`http://127.0.0.1:9464`).
        token: The daemon's `admin.token`.
        timeout: Seconds per request.
    """

    def __init__(self, admin_url: str, token: str, *, timeout: float = 5.0) -> None:
        self._url = admin_url.rstrip("/") + "/v1/reports"
        self._token = token
        self._client = httpx.AsyncClient(timeout=timeout, trust_env=False)

    def __repr__(self) -> str:
        return f"ReportSender({self._url!r}, token=***)"

    async def send(self, reports: list[Report]) -> None:
        """POST one batch.

        Raises:
            httpx.HTTPError: The daemon could not be reached or refused the batch.
        """
        response = await self._client.post(
            self._url,
            json={"reports": [r.to_dict() for r in reports]},
            headers={"authorization": f"Bearer {self._token}"},
        )
        response.raise_for_status()

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
