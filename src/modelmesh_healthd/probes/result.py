"""ProbeResult: everything one probe found out, secret-free. It satisfies `state.ProbeReport`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from modelmesh_healthd.state.outcome import Outcome

if TYPE_CHECKING:
    from modelmesh_healthd.state.transition import ProbeReport

__all__ = ["EMPTY_HEADROOM", "NO_MODELS", "PhaseTimings", "ProbeResult"]

EMPTY_HEADROOM: Mapping[str, float] = MappingProxyType({})
NO_MODELS: Mapping[str, Outcome] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PhaseTimings:
    """Where a probe's time went, in seconds; None where a phase did not happen or is unknown.

    Attributes:
        connect: Opening a new connection (name resolution and TCP; under the aiohttp transport
            this includes the TLS handshake, which aiohttp does not time apart). None when a
            pooled connection was reused.
        tls: The TLS handshake alone (httptools and httpx transports). None for plain HTTP,
            reuse, or aiohttp.
        ttfb: From the start of the probe to the last response's headers (includes connect).
        transfer: Reading the response bodies.
    """

    connect: float | None = None
    tls: float | None = None
    ttfb: float | None = None
    transfer: float | None = None


NO_TIMINGS = PhaseTimings()


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeResult:
    """The classified result of one probe.

    Attributes:
        provider: The probed target's name.
        kind: The probe kind that ran.
        outcome: The provider-level outcome class.
        status: HTTP status of the last response, None when there was none.
        latency: Seconds from start until the last response was read; None without a response
            (then `elapsed` still says how long the probe took).
        elapsed: Seconds the probe took, always set.
        timings: Phase timings.
        retry_after: Seconds the provider asked us to wait (Retry-After, as seconds or a date).
        headroom: Rate-limit headroom the provider reported, e.g. {"requests": 59, "tokens": 1e5},
            or {"credits": 8.7} for OpenRouter.
        detail: Short, secret-free description, None when all is well.
        model_outcomes: Mesh model id -> `ok` or `model_not_found`, for the models checked.
        bytes_read: Body bytes read (never more than the target's cap, plus one chunk at most).
    """

    provider: str
    kind: str
    outcome: Outcome
    status: int | None = None
    latency: float | None = None
    elapsed: float = 0.0
    timings: PhaseTimings = NO_TIMINGS
    retry_after: float | None = None
    headroom: Mapping[str, float] = field(default_factory=lambda: EMPTY_HEADROOM)
    detail: str | None = None
    model_outcomes: Mapping[str, Outcome] = field(default_factory=lambda: NO_MODELS)
    bytes_read: int = 0

    @property
    def ok(self) -> bool:
        """True when the provider answered correctly (`ok` or `degraded`)."""
        return self.outcome is Outcome.OK or self.outcome is Outcome.DEGRADED

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view (for `check --json` and logs).

        Returns:
            Plain types only; latencies in seconds.
        """
        t = self.timings
        return {
            "provider": self.provider,
            "kind": self.kind,
            "outcome": str(self.outcome),
            "status": self.status,
            "latency": self.latency,
            "elapsed": self.elapsed,
            "timings": {"connect": t.connect, "tls": t.tls, "ttfb": t.ttfb, "transfer": t.transfer},
            "retry_after": self.retry_after,
            "headroom": dict(self.headroom),
            "detail": self.detail,
            "models": {k: str(v) for k, v in self.model_outcomes.items()},
            "bytes_read": self.bytes_read,
        }


if TYPE_CHECKING:

    def _a_probe_result_is_a_probe_report(result: ProbeResult) -> ProbeReport:
        return result  # mypy proves the structural match with state.ProbeReport here
