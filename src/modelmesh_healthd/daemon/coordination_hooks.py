"""Replicas wired into the daemon: the store a daemon writes, behind a Coordinator if asked.

The store URL says whether this daemon is one replica of several (`?replicas=on`); then its
writes go through the coordinator's fenced store, the history follows the leases, and a quorum
across sites has a shared store to vote in. Without replicas a quorum of more than one site is
refused at start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelmesh_healthd.daemon.history_hooks import share_history
from modelmesh_healthd.daemon.quorum_hooks import require_shared_store
from modelmesh_healthd.daemon.replica_options import replica_options
from modelmesh_healthd.storage import StateStore, open_store

if TYPE_CHECKING:
    from modelmesh_healthd.daemon.coordination import Coordinator, Daemon
    from modelmesh_healthd.daemon.history import HistoryRecorder

__all__ = ["store_to_write"]


def store_to_write(
    daemon: Daemon, store_url: str, history: HistoryRecorder
) -> tuple[StateStore, Coordinator | None]:
    """The store the URL names, behind a replica's Coordinator when it asks for replicas.

    Returns:
        The store to write, and the replica's coordinator (None: this daemon writes alone).

    Raises:
        StoreError: A bad URL, or a quorum across sites with no shared store to vote in.
    """
    url, lease_ttl = replica_options(store_url)
    store = open_store(url)
    if lease_ttl is None:
        require_shared_store(daemon.core)
        return store, None
    # The coordinator's modules (leases, votes, the fenced store) only for a replica.
    from modelmesh_healthd.daemon.coordination import Coordinator

    coordinator = Coordinator(daemon, store, lease_ttl)
    share_history(history, coordinator)
    return coordinator.store, coordinator
