"""Store URLs: the backend registry, credential redaction and the default location.

The registry maps a URL scheme to the module and class of its backend, resolved once when the
store is opened; a backend's driver (redis, psycopg) is imported only when its scheme is chosen,
so a daemon on SQLite needs neither installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from modelmesh_healthd.storage.errors import StoreURLError

if TYPE_CHECKING:
    # Only a type here: the command line reads `default_store_url` for its help without the
    # stores' base (asyncio, the state's snapshot); every backend imports it itself.
    from modelmesh_healthd.storage.base import StateStore

__all__ = [
    "BACKENDS",
    "DEFAULT_STATE_FILE",
    "default_store_url",
    "open_store",
    "redact_url",
    "scrub",
    "split_options",
    "url_secrets",
]

BACKENDS: Mapping[str, str] = {
    "memory": "modelmesh_healthd.storage.memory_store:MemoryStore",
    "file": "modelmesh_healthd.storage.file_store:FileStore",
    "sqlite": "modelmesh_healthd.storage.sqlite_store:SQLiteStore",
    "redis": "modelmesh_healthd.storage.redis_store:RedisStore",
    "rediss": "modelmesh_healthd.storage.redis_store:RedisStore",
    "postgresql": "modelmesh_healthd.storage.postgres_store:PostgresStore",
    "postgres": "modelmesh_healthd.storage.postgres_store:PostgresStore",
}
"""URL scheme -> `module:Class` of the backend."""

DEFAULT_STATE_FILE = "state.db"


_SECRET_PARAMS = frozenset({"password", "passwd", "pass", "pwd", "sslpassword"})
"""Query parameters that carry a secret (libpq accepts `?password=` in a URL)."""


def url_secrets(url: str) -> list[str]:
    """The secrets a URL carries (userinfo password, password-like query values), decoded.

    Stores scrub these from driver error messages before they reach a log or an exception.
    """
    try:
        parts = urlsplit(url)
        found = [] if parts.password is None else [unquote(parts.password)]
    except ValueError:
        return []
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k in _SECRET_PARAMS]
    return [secret for secret in found if secret]


def redact_url(url: str) -> str:
    """`url` with its password and password-like query values replaced by `***`."""
    try:
        parts = urlsplit(url)
        password, port = parts.password, parts.port
    except ValueError:
        return "<unparsable store URL>"
    secret_query = any(k in _SECRET_PARAMS for k, _ in parse_qsl(parts.query))
    if password is None and not secret_query:
        return url  # unchanged (urlunsplit would also drop an empty `//` authority)
    netloc = parts.netloc
    if password is not None:
        host = parts.hostname or ""
        if ":" in host:  # an IPv6 literal needs its brackets back
            host = f"[{host}]"
        netloc = f"{parts.username or ''}:***@{host}" + (f":{port}" if port is not None else "")
    query = parts.query
    if secret_query:
        query = "&".join(
            f"{k}=***" if k in _SECRET_PARAMS else f"{k}={v}"
            for k, v in parse_qsl(query, keep_blank_values=True)
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(text: str, secrets: list[str]) -> str:
    """`text` with every secret replaced by `***`."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def default_store_url(environ: Mapping[str, str]) -> str:
    """The store used when the configuration names none: SQLite in the state directory.

    Args:
        environ: The process environment. systemd's `StateDirectory=` sets `STATE_DIRECTORY`
            (several directories are separated by `:`; the first is used).

    Returns:
        `sqlite:////$STATE_DIRECTORY/state.db` (SQLAlchemy's absolute form: four slashes), or
        `sqlite:./state/state.db` (relative to the working directory) when `STATE_DIRECTORY` is
        unset.
    """
    directory = environ.get("STATE_DIRECTORY", "").split(":")[0].rstrip("/")
    if directory:
        prefix = "sqlite:///" if directory.startswith("/") else "sqlite:"
        return f"{prefix}{directory}/{DEFAULT_STATE_FILE}"
    return f"sqlite:./state/{DEFAULT_STATE_FILE}"


def split_options(url: str, known: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """Take this daemon's own options out of a URL's query, leaving the driver's ones.

    Args:
        url: The store URL.
        known: Option name -> default value; only these are taken out.

    Returns:
        The URL without those options, and every known option's value (default when absent).
    """
    # Cut by hand, not urlunsplit: that drops an empty authority, and `sqlite:///x.db`
    # (relative) would come back as `sqlite:/x.db` (absolute).
    base, _, rest_of_url = url.partition("?")
    query, hash_mark, fragment = rest_of_url.partition("#")
    if not query and "#" in base:
        base, hash_mark, fragment = base.partition("#")
    options = dict(known)
    rest: list[tuple[str, str]] = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in known:
            options[key] = value
        else:
            rest.append((key, value))
    kept = urlencode(rest)
    return base + (f"?{kept}" if kept else "") + (hash_mark + fragment), options


def open_store(url: str, **kwargs: Any) -> StateStore:
    """Build the store a URL names (not yet opened: use `async with`).

    URL formats: `memory://NAME`, `file:///path/state.json`, SQLite with SQLAlchemy's meaning
    (`sqlite:///relative/path.db`, `sqlite:////absolute/path.db`; also `sqlite:relative/path.db`),
    `redis://[:password@]host:port/db?prefix=...&lock_ttl=15`,
    `postgresql://user[:password]@host:port/db?schema=modelmesh_healthd`.

    Args:
        url: The store URL.
        **kwargs: Passed on to the backend's constructor (tests tune timings this way).

    Returns:
        The store.

    Raises:
        StoreURLError: Unknown scheme, or a backend whose driver is not installed.
    """
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    target = BACKENDS.get(scheme)
    if target is None:
        known = ", ".join(sorted(BACKENDS))
        raise StoreURLError(
            f"unknown state store URL scheme {scheme!r} in {redact_url(url)!r}; known: {known}"
        )
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = "redis" if "redis" in scheme else "postgres"
        raise StoreURLError(
            f"the {scheme}:// state store needs the {extra!r} extra "
            f"(pip install 'modelmesh-healthd[{extra}]'): {exc}"
        ) from None
    store: StateStore = getattr(module, class_name)(url, **kwargs)
    return store
