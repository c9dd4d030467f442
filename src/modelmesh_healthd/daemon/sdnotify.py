"""systemd's notify protocol (sd_notify(3)) in pure Python: one datagram per message.

systemd passes `NOTIFY_SOCKET` (a path, or `@name` for an abstract socket) to a `Type=notify`
service and reads `KEY=VALUE` lines from it: `READY=1`, `STATUS=...`, `WATCHDOG=1`,
`RELOADING=1` (with `MONOTONIC_USEC=`), `STOPPING=1`. Without `NOTIFY_SOCKET` every call is a
no-op, so the daemon calls the notifier unconditionally. A failing send never raises: supervision
is a courtesy to the supervisor, never a reason for the daemon to fail; the first failure is
logged once.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping

import structlog

__all__ = ["Notifier", "monotonic_usec", "watchdog_interval"]

_log = structlog.get_logger("modelmesh_healthd.daemon")


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds (what systemd compares `MONOTONIC_USEC=` with)."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises.

    Args:
        environ: The process environment.
        pid: This process's id (`WATCHDOG_PID`, when set, must name it: the variables may have
            been inherited from a parent that is the watched one).

    Returns:
        Seconds between pings, or None when no watchdog is asked of this process.
    """
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    watched = environ.get("WATCHDOG_PID", "")
    if watched and (not watched.isdigit() or int(watched) != pid):
        return None
    return int(usec) / 2_000_000


def _address(value: str) -> str | None:
    # A leading '@' names an abstract socket: the kernel wants a NUL byte there instead.
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # e.g. systemd 254's vsock: addresses, not spoken here


class Notifier:
    """Sends notify messages to the socket systemd gave this process.

    Args:
        environ: The process environment (`NOTIFY_SOCKET`).
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._raw = environ.get("NOTIFY_SOCKET", "")
        self._address = _address(self._raw) if self._raw else None
        self._socket: socket.socket | None = None
        self._failed = False
        if self._raw and self._address is None:
            self._fail(f"unsupported NOTIFY_SOCKET address {self._raw!r}")

    @property
    def enabled(self) -> bool:
        """True when there is a socket to notify (and it has not been given up on)."""
        return self._address is not None

    def notify(self, *lines: str) -> bool:
        """Send one message made of `KEY=VALUE` lines.

        Args:
            *lines: e.g. `"READY=1"`, `"STATUS=4 providers up"`. Newlines inside a value are
                replaced by spaces (the protocol is line based).

        Returns:
            True if the datagram was sent; False when notifying is off or the send failed.
        """
        if self._address is None or not lines:
            return False
        message = "\n".join(line.replace("\n", " ") for line in lines).encode("utf-8", "replace")
        try:
            if self._socket is None:
                kind = socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                self._socket = socket.socket(socket.AF_UNIX, kind)
                # Never block the event loop: a full receive queue drops this one message.
                self._socket.setblocking(False)
            self._socket.sendto(message, self._address)
        except OSError as exc:
            self._fail(f"{type(exc).__name__}: {exc.strerror or exc}")
            return False
        return True

    def close(self) -> None:
        """Close the socket (notifying again reopens it)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _fail(self, reason: str) -> None:
        if not self._failed:
            self._failed = True
            _log.warning("systemd.notify_failed", socket=self._raw, reason=reason)
