"""The log pipeline: JSON off a terminal, console on one, third-party logs in the same stream."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
import structlog

from modelmesh_healthd.daemon.logs import configure_logging, log_enabled


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_off_a_terminal_every_line_is_one_json_event() -> None:
    out = io.StringIO()
    configure_logging("info", "auto", stream=out)
    structlog.get_logger("t").warning("provider.down", provider="openai", score=0.42)
    structlog.get_logger("t").debug("probe.completed", provider="openai")
    (line,) = out.getvalue().splitlines()
    event = json.loads(line)
    assert (event["event"], event["level"], event["provider"]) == (
        "provider.down",
        "warning",
        "openai",
    )
    assert event["timestamp"].endswith("Z")


def test_on_a_terminal_lines_are_for_people() -> None:
    out = Terminal()
    configure_logging("info", "auto", stream=out)
    structlog.get_logger("t").info("daemon.started", providers=3)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # without the terminal's colours
    assert "daemon.started" in text
    assert "providers=3" in text
    assert not text.lstrip().startswith("{")


def test_the_format_can_be_forced() -> None:
    out = Terminal()
    configure_logging("info", "json", stream=out)
    structlog.get_logger("t").info("daemon.started")
    assert json.loads(out.getvalue())["event"] == "daemon.started"


def test_debug_level_lets_healthy_probes_through() -> None:
    out = io.StringIO()
    configure_logging("debug", "json", stream=out)
    structlog.get_logger("t").debug("probe.completed", provider="a")
    assert json.loads(out.getvalue())["level"] == "debug"


def test_third_party_logs_join_the_stream_at_warning_and_above() -> None:
    out = io.StringIO()
    configure_logging("debug", "json", stream=out)
    logging.getLogger("httpx").info("HTTP Request: GET http://x")
    logging.getLogger("aiohttp.client").warning("connection pool full")
    (line,) = out.getvalue().splitlines()
    event = json.loads(line)
    assert (event["event"], event["level"], event["logger"]) == (
        "connection pool full",
        "warning",
        "aiohttp.client",
    )


@pytest.mark.parametrize(
    ("configured", "level", "enabled"),
    [
        (None, "debug", True),  # structlog's defaults: everything
        ("debug", "debug", True),
        ("info", "debug", False),
        ("info", "info", True),
        ("info", "error", True),
        ("warning", "info", False),
        ("warning", "warning", True),
        ("error", "warning", False),
    ],
)
def test_log_enabled_says_what_the_configured_level_lets_through(
    configured: str | None, level: str, enabled: bool
) -> None:
    if configured is not None:
        configure_logging(configured, "json", stream=io.StringIO())
    assert log_enabled(level) is enabled


def test_log_enabled_follows_a_reset_of_structlog() -> None:
    configure_logging("error", "json", stream=io.StringIO())
    structlog.reset_defaults()
    assert log_enabled("debug")
