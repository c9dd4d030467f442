"""Small filesystem helpers shared by the file and SQLite backends (blocking: run off the loop)."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from modelmesh_healthd.storage.errors import StoreURLError

__all__ = ["corrupt_name", "fsync_dir", "path_from_url"]


def path_from_url(url: str, redacted: str) -> Path:
    """The filesystem path of a `file:` or `sqlite:` store URL.

    `file:` follows RFC 8089: `file:///abs/path` is absolute, `file:rel/path` relative.
    `sqlite:` follows SQLAlchemy: `sqlite:///rel/path.db` is relative to the working directory,
    `sqlite:////abs/path.db` absolute; the authority-less `sqlite:rel/path.db` and
    `sqlite:/abs/path.db` mean what they say.

    Raises:
        StoreURLError: A host (other than `localhost` for `file:`), or no path.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        if parts.netloc:
            raise StoreURLError(
                f"store URL {redacted!r} names host {parts.netloc!r}: SQLite URLs name a file, "
                "sqlite:///relative/path.db or sqlite:////absolute/path.db"
            )
        path = unquote(parts.path)
        if url.split(":", 1)[1].startswith("//"):
            path = path[1:]  # SQLAlchemy: the third slash ends the (empty) authority
    else:
        if parts.netloc not in ("", "localhost"):
            raise StoreURLError(
                f"store URL {redacted!r} names host {parts.netloc!r}: a local path needs "
                f"{parts.scheme}:///absolute/path or {parts.scheme}:relative/path"
            )
        path = unquote(parts.path)
    if not path or path.endswith("/"):
        hint = " (SQLAlchemy's in-memory sqlite:// keeps nothing: use memory://)"
        memory = scheme == "sqlite" and not path
        raise StoreURLError(f"store URL {redacted!r} names no file" + (hint if memory else ""))
    return Path(path)


def corrupt_name(path: Path) -> Path:
    """Where a corrupt file is moved: `<name>.corrupt-<UTC time to the microsecond>`."""
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
    return path.with_name(f"{path.name}.corrupt-{stamp}")


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with contextlib.suppress(OSError):  # some filesystems refuse fsync on a directory
            os.fsync(fd)
    finally:
        os.close(fd)
