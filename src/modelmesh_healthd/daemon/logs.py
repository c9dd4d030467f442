"""Logging: one structlog pipeline, JSON lines when not on a terminal, console on one.

Third-party loggers (httpx, aiohttp, asyncio, ...) go through the same pipeline at WARNING, so the
output is one stream of one format.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Literal, TextIO

import structlog

__all__ = ["configure_logging", "log_enabled"]

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


_FLOORS = {structlog.make_filtering_bound_logger(n): n for n in _LEVELS.values()}
"""structlog's filtering logger classes (one per level, cached by structlog) -> their level."""


def log_enabled(level: str) -> bool:
    """Whether an event at `level` (`debug`, `info`, ...) would be logged as structlog is set up.

    For a caller that would build the event's fields only to see them dropped: a healthy probe's
    `probe.completed` is debug, and building it showed in the daemon's profile (docs/benchmarks.md).
    Read from structlog's configuration each time, so it follows any reconfiguration (a reload,
    a test's `capture_logs`); a wrapper that is not a filtering one passes everything.
    """
    floor = _FLOORS.get(structlog.get_config()["wrapper_class"], logging.NOTSET)
    return _LEVELS.get(level, logging.CRITICAL) >= floor


def configure_logging(
    level: str = "info",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and the standard library's logging for the daemon.

    Args:
        level: Lowest level logged by the daemon itself.
        fmt: `json`, `console`, or `auto` (JSON unless the stream is a terminal).
        stream: Where to write (default: stdout).
    """
    out = stream or sys.stdout
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty() and not os.environ.get("NO_COLOR"))
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info if use_json else _passthrough,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


def _passthrough(_: Any, __: str, event_dict: Any) -> Any:
    return event_dict
