"""`POST /v1/reports`: routers' real request outcomes, taken as passive evidence and usage.

A batch is `{"reports": [{"model", "provider", "outcome", "at", "latency", "tokens", "cost"}, ...]}`
(what `integrations.modelmesh.Feedback` sends). Like every write it needs `Authorization: Bearer
<admin.token>`: the admin endpoint's one check (`daemon.admin_auth`) answers 401 before this
handler runs, so a refused batch changes nothing. Bodies over `MAX_BODY` bytes or
`MAX_REPORTS` reports are refused whole (413), a malformed batch too (400, naming what and where).

What a report does (see docs/modelmesh.md):

* usage: a successful request adds 1 to its provider's `total_quota_used` and its model's
  `quota_used`, its tokens to the model's `tokens_used`, its cost to the provider's `total_cost`
  and the model's `cost_accumulated`. They reach the store with the provider's next probe;
* evidence: each outcome goes to the provider's `PassiveEvidence`; an accusation never changes
  health by itself, it makes the scheduler probe that provider at once, and the probe decides.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from aiohttp import web

from modelmesh_healthd.state import HealthPolicy, LogEventSpec, Mesh, Outcome, SystemState
from modelmesh_healthd.state.passive import Accusation, PassiveEvidence, PassivePolicy, add_usage

__all__ = ["LOG_EVENTS", "MAX_BODY", "MAX_REPORTS", "ReportError", "ReportIntake", "parse_batch"]

MAX_BODY = 1 << 20
"""Largest accepted body, in bytes."""
MAX_REPORTS = 5_000
"""Most reports in one batch."""

LOG_EVENTS: tuple[LogEventSpec, ...] = (
    LogEventSpec(
        "passive.accused",
        "warning",
        ("provider", "rule", "failures", "requests"),
        "Router reports accuse a provider; it is probed at once to confirm or clear.",
    ),
    LogEventSpec(
        "reports.received",
        "debug",
        ("reports", "ignored"),
        "A batch of router reports was taken in (ignored: models and providers not configured).",
    ),
)

_log = structlog.get_logger("modelmesh_healthd.daemon.reports")


class ReportTarget(Protocol):
    """What the reports need of the daemon: a part of `view.DaemonControls`."""

    @property
    def mesh(self) -> Mesh: ...

    @property
    def state(self) -> SystemState: ...

    @property
    def policy(self) -> HealthPolicy: ...

    def wall_clock(self) -> float: ...

    def probe_now(self, provider: str) -> bool:
        """Probe `provider` at once; False when it is not probed."""
        ...


class ReportError(ValueError):
    """A malformed batch; the message names what and where (`reports[3].outcome: ...`)."""


@dataclass(frozen=True, slots=True)
class RouterReport:
    """One validated report."""

    model: str
    provider: str | None
    outcome: Outcome
    at: float
    latency: float | None
    tokens: int
    cost: float | None


def _number(value: Any, where: str, *, optional: bool) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ReportError(f"{where}: must be a finite number, got {json.dumps(value)[:40]}")
    if value < 0:
        raise ReportError(f"{where}: must be >= 0, got {value}")
    return float(value)


def parse_batch(data: Any) -> list[RouterReport]:
    """Validate a decoded batch.

    Raises:
        ReportError: The first thing wrong, by its place in the batch.
    """
    if not isinstance(data, dict) or not isinstance(data.get("reports"), list):
        raise ReportError('body: must be {"reports": [...]}')
    items: list[Any] = data["reports"]
    if len(items) > MAX_REPORTS:
        raise ReportError(f"reports: at most {MAX_REPORTS} per batch, got {len(items)}")
    out: list[RouterReport] = []
    for i, item in enumerate(items):
        here = f"reports[{i}]"
        if not isinstance(item, dict):
            raise ReportError(f"{here}: must be an object")
        model, provider = item.get("model"), item.get("provider")
        if not isinstance(model, str) or not model:
            raise ReportError(f"{here}.model: must be a non-empty string")
        if provider is not None and not isinstance(provider, str):
            raise ReportError(f"{here}.provider: must be a string or null")
        try:
            outcome = Outcome(str(item.get("outcome")))
        except ValueError:
            known = ", ".join(o.value for o in Outcome)
            raise ReportError(f"{here}.outcome: must be one of {known}") from None
        at = _number(item.get("at"), f"{here}.at", optional=False)
        tokens = item.get("tokens", 0)
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
            raise ReportError(f"{here}.tokens: must be an integer >= 0")
        assert at is not None
        out.append(
            RouterReport(
                model=model,
                provider=provider,
                outcome=outcome,
                at=at,
                latency=_number(item.get("latency"), f"{here}.latency", optional=True),
                tokens=tokens,
                cost=_number(item.get("cost"), f"{here}.cost", optional=True),
            )
        )
    return out


class ReportIntake:
    """The handler of `POST /v1/reports` and the passive evidence it keeps per provider.

    Args:
        daemon: The daemon whose state the reports reach and which probes accused providers.
        passive: The accusation rules.
    """

    def __init__(self, daemon: ReportTarget, passive: PassivePolicy | None = None) -> None:
        self._daemon = daemon
        self._passive = passive or PassivePolicy()
        self.evidence: dict[str, PassiveEvidence] = {}
        self.accusations = 0
        """Accusations made so far (each answered by an immediate probe)."""

    async def handle(self, request: web.Request) -> web.Response:
        """Bound, parse and take in one batch (already authenticated by the admin endpoint)."""
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _too_large()
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > MAX_BODY:
                return _too_large()
            chunks.append(chunk)
        try:
            reports = parse_batch(json.loads(b"".join(chunks)))
        except json.JSONDecodeError as exc:
            return web.json_response({"error": f"body: not JSON ({exc.msg})"}, status=400)
        except ReportError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        taken, ignored = self.take(reports)
        return web.json_response({"accepted": taken, "ignored": ignored})

    def take(self, reports: list[RouterReport]) -> tuple[int, int]:
        """Apply validated reports: usage into the state, outcomes into the evidence.

        Returns:
            Reports taken, and reports ignored (their model and provider are not configured).
        """
        d = self._daemon
        now = d.wall_clock()
        taken = ignored = 0
        accused: dict[str, Accusation] = {}
        for r in reports:
            provider = d.mesh.model_provider.get(r.model) or r.provider
            ps = None if provider is None else d.state.providers.get(provider)
            if provider is None or ps is None:
                ignored += 1
                continue
            taken += 1
            if r.outcome in (Outcome.OK, Outcome.DEGRADED):
                add_usage(ps, d.state.models.get(r.model), tokens=r.tokens, cost=r.cost)
            evidence = self.evidence.setdefault(provider, PassiveEvidence())
            accusation = evidence.observe(
                r.outcome, r.at, now, passive=self._passive, policy=d.policy
            )
            if accusation is not None:
                accused[provider] = accusation
        for provider, accusation in accused.items():
            self._accuse(provider, accusation)
        _log.debug("reports.received", reports=taken, ignored=ignored)
        return taken, ignored

    def _accuse(self, provider: str, accusation: Accusation) -> None:
        if not self._daemon.probe_now(provider):
            return  # not probed (disabled): nothing can confirm it, so nothing happens
        self.accusations += 1
        _log.warning(
            "passive.accused",
            provider=provider,
            rule=accusation.rule,
            failures=accusation.failures,
            requests=accusation.requests,
        )


def _too_large() -> web.Response:
    return web.json_response(
        {"error": f"body: at most {MAX_BODY} bytes and {MAX_REPORTS} reports per batch"},
        status=413,
    )
