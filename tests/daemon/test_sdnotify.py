"""The notify protocol, read from real AF_UNIX datagram sockets as systemd reads it."""

from __future__ import annotations

import os
import time

import pytest
from ops_support import notify_socket
from structlog.testing import capture_logs

from modelmesh_healthd.daemon.sdnotify import Notifier, monotonic_usec, watchdog_interval


def test_without_notify_socket_nothing_is_sent_or_logged() -> None:
    with capture_logs() as logs:
        notifier = Notifier({})
        assert not notifier.enabled
        assert notifier.notify("READY=1") is False
    assert logs == []


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_a_message_arrives_as_one_datagram_of_lines(abstract: bool) -> None:
    with notify_socket(abstract=abstract) as sock:
        notifier = Notifier({"NOTIFY_SOCKET": sock.address})
        assert notifier.notify("READY=1", "STATUS=4/4 providers up") is True
        notifier.close()
        assert sock.sock.recv(4096) == b"READY=1\nSTATUS=4/4 providers up"


def test_a_newline_inside_a_value_cannot_forge_another_line() -> None:
    with notify_socket() as sock:
        notifier = Notifier({"NOTIFY_SOCKET": sock.address})
        notifier.notify("STATUS=pool a\nREADY=1")
        notifier.close()
        assert sock.with_key("STATUS") == [{"STATUS": "pool a READY=1"}]


def test_a_socket_that_is_gone_is_logged_once_and_never_raises() -> None:
    with capture_logs() as logs:
        notifier = Notifier({"NOTIFY_SOCKET": "/nonexistent/notify"})
        assert notifier.notify("READY=1") is False
        assert notifier.notify("WATCHDOG=1") is False
        notifier.close()
    failures = [e for e in logs if e["event"] == "systemd.notify_failed"]
    assert len(failures) == 1
    assert failures[0]["socket"] == "/nonexistent/notify"
    assert "FileNotFoundError" in failures[0]["reason"]


def test_an_address_it_cannot_speak_is_reported_once_and_turns_notifying_off() -> None:
    with capture_logs() as logs:
        notifier = Notifier({"NOTIFY_SOCKET": "vsock:2:1234"})
        assert not notifier.enabled
        assert notifier.notify("READY=1") is False
    assert [e["event"] for e in logs] == ["systemd.notify_failed"]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "200000", "WATCHDOG_PID": str(os.getpid())}, 0.1),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "x"}, None),
    ],
    ids=["unset", "half", "our-pid", "other-pid", "zero", "garbage", "bad-pid"],
)
def test_the_watchdog_interval_is_half_of_watchdog_usec_and_only_for_us(
    environ: dict[str, str], expected: float | None
) -> None:
    assert watchdog_interval(environ, os.getpid()) == expected


def test_monotonic_usec_is_clock_monotonic_in_microseconds() -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    value = monotonic_usec()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert before <= value <= after
