"""What a daemon reads before it knows whether it is a replica: the store URL's replica options,
and the standby's wait for a single writer's lock.

Apart from `coordination.py` so that a daemon writing alone never imports the coordinator
(its leases, votes, fenced store and metrics): `coordination_hooks` imports that only for a
URL that asks for replicas.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import structlog

from modelmesh_healthd.storage.base import LockOwner
from modelmesh_healthd.storage.errors import StoreURLError
from modelmesh_healthd.storage.log import LOGGER_NAME
from modelmesh_healthd.storage.urls import split_options

__all__ = ["DEFAULT_LEASE_TTL", "STANDBY_POLL", "log_standby", "replica_options"]

_log = structlog.get_logger(LOGGER_NAME)

DEFAULT_LEASE_TTL = 10.0
STANDBY_POLL = 1.0
"""Seconds between a standby's attempts at a single-writer store's lock."""
_standby_logged: set[str] = set()


def replica_options(url: str) -> tuple[str, float | None]:
    """Take `replicas` and `lease_ttl` out of a store URL.

    Returns:
        The URL for the store itself, and the lease TTL in seconds (None: not replicated).

    Raises:
        StoreURLError: `replicas` or `lease_ttl` is not understood.
    """
    query = urlsplit(url).query
    if "replicas=" not in query and "lease_ttl=" not in query:
        return url, None  # untouched: re-joining a URL can change its spelling (sqlite:///)
    bare, options = split_options(url, {"replicas": "", "lease_ttl": str(DEFAULT_LEASE_TTL)})
    switch = options["replicas"].lower()
    if switch in ("", "off", "false", "0", "no"):
        return bare, None
    if switch not in ("on", "true", "1", "yes"):
        raise StoreURLError(f"store URL: replicas must be on or off, got {switch!r}")
    try:
        ttl = float(options["lease_ttl"])
    except ValueError:
        ttl = -1.0
    if not 0.3 <= ttl <= 600.0:
        raise StoreURLError(
            "store URL: lease_ttl must be seconds between 0.3 and 600, "
            f"got {options['lease_ttl']!r}"
        )
    return bare, ttl


def log_standby(store: str, owner: LockOwner | None, retry_in: float) -> None:
    """Say once per store and holder that this daemon waits as a standby (`store.standby`)."""
    key = f"{store}|{None if owner is None else owner.token}"
    if key in _standby_logged:
        return
    _standby_logged.add(key)
    _log.info(
        "store.standby",
        store=store,
        owner_writer_id=None if owner is None else owner.writer_id,
        owner_pid=None if owner is None else owner.pid,
        retry_in_s=retry_in,
    )
