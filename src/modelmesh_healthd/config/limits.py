"""The limits that keep a hostile or broken configuration from hanging or sinking the daemon.

Whoever can write the configuration file (or a secret file it names) must not be able to make
loading it take unbounded memory or time: a reload happens inside the running daemon. Each
limit is documented in docs/operations.md ("Limits of a configuration file").
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "LOAD_TIMEOUT",
    "MAX_ALIAS_VALUES",
    "MAX_CONFIG_BYTES",
    "MAX_DEPTH",
    "MAX_ISSUES",
    "MAX_PART_VALUES",
    "MAX_SECRET_BYTES",
    "Deadline",
    "FileRefused",
    "LoadTimeout",
    "read_regular_file",
]

MAX_CONFIG_BYTES = 16 * 1024 * 1024
"""The configuration file's size limit: room for a fleet of over 100,000 providers."""

MAX_SECRET_BYTES = 64 * 1024
"""A `${file:...}` secret's size limit: a key or token is small."""

MAX_DEPTH = 64
"""How deeply mappings and lists may nest (a configuration needs under ten levels)."""

MAX_ALIAS_VALUES = 1_000_000
"""How many values YAML aliases (`*name`, also in merge keys `<<: *name`) may stand for in all.

Each use of an alias counts every value (mapping, list or scalar) of what it names, with the
aliases inside that multiplied out: the document's size as if every alias were written out, less
what is written. Kubernetes' YAML library bounded alias expansion after CVE-2019-11253 in the
same spirit (as a ratio to the document's size); one absolute number is simpler to document.
"""

MAX_PART_VALUES = 100_000
"""How many values one part of the document validated at once may hold: everything outside the
entries of providers, models and pools, or one such entry (validation keeps every error of a
part until the part is done, so a part must be small enough for all of its values to be wrong)."""

MAX_ISSUES = 1000
"""The most problems reported; past it, the rest are left out (and, in a large file, unchecked)."""

LOAD_TIMEOUT = 30.0
"""Seconds that reading, interpolating and validating a configuration may take in all."""


class FileRefused(Exception):  # noqa: N818 - a refusal, reported as one line, not a crash
    """A file that is not read: not a regular file, too large, or unreadable. `str()` says why."""


class LoadTimeout(Exception):  # noqa: N818 - reported as a configuration problem
    """Loading the configuration passed its time limit."""


@dataclass
class Deadline:
    """The time left to finish loading (a monotonic clock: wall-clock jumps do not count).

    Attributes:
        seconds: The whole allowance.
    """

    seconds: float = LOAD_TIMEOUT
    _end: float = field(init=False)

    def __post_init__(self) -> None:
        self._end = time.monotonic() + self.seconds

    def check(self) -> None:
        """Raises:
        LoadTimeout: The time is up.
        """
        if time.monotonic() > self._end:
            raise LoadTimeout(f"loading took longer than {self.seconds:g}s (the limit)")


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, read without ever blocking.

    The path is checked with `stat` before it is opened, so a FIFO (whose `open` would wait for
    a writer) or a device (whose `open` may act, e.g. rewind a tape) is never opened. The file is
    then opened with O_NONBLOCK and checked again with `fstat`: if it was swapped for something
    else in between, what was opened is what is judged. At most `limit + 1` bytes are read, so a
    file that grows (or a /proc file that reports size 0) cannot make the read unbounded.

    Args:
        path: The file (symbolic links are followed: Kubernetes mounts secrets through them).
        limit: The most bytes accepted.

    Returns:
        The file's content.

    Raises:
        FileRefused: Missing, unreadable, not a regular file, or larger than `limit`.
    """
    try:
        before = os.stat(path)
        if not stat.S_ISREG(before.st_mode):
            raise FileRefused(f"is {_kind(before.st_mode)}, not a regular file")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise FileRefused(exc.strerror or str(exc)) from None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise FileRefused(f"is {_kind(opened.st_mode)}, not a regular file")
        if opened.st_size > limit:
            raise FileRefused(f"is larger than {_size(limit)} (the limit)")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise FileRefused(f"is larger than {_size(limit)} (the limit)")
        return b"".join(chunks)
    except OSError as exc:
        raise FileRefused(exc.strerror or str(exc)) from None
    finally:
        os.close(fd)


def _size(n: int) -> str:
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"
