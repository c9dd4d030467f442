"""The connection-phase clock of the probe running in the current task.

Phase timings reach the running probe through a context variable: our transport's connect hook,
the aiohttp connector and httpcore's `trace` extension all run inside the task that sent the
request, so they find that probe's `PhaseClock` without any per-request plumbing.
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["CURRENT_CLOCK", "PhaseClock"]


class PhaseClock:
    """Connection-phase timestamps of the probe running in the current task."""

    __slots__ = ("connect", "connect_started", "tls", "tls_started")

    def __init__(self) -> None:
        self.connect_started = 0.0
        self.connect: float | None = None
        self.tls_started = 0.0
        self.tls: float | None = None


CURRENT_CLOCK: ContextVar[PhaseClock | None] = ContextVar("modelmesh_probe_clock", default=None)
