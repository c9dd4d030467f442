"""Persistence: StateStore backends chosen by URL and the StateManager with its sync policies.

The daemon's side::

    store = open_store(url)                      # memory://, file://, sqlite://, redis://, postgresql://
    manager = StateManager(store, policy="immediate", writer_id="healthd-1")
    await manager.start()                        # takes the store's lock (StoreLockedError if held)
    restored = await manager.load()              # SystemState | None; corrupt data set aside
    state, events = reconcile(mesh, restored, now)
    manager.attach(state, mesh)                  # full save follows
    ...
    step = observe(core, provider, result, now)  # the core's step (state.observe)
    manager.record(step.events)                  # never blocks, never raises
    ...
    await manager.stop()                         # final save, lock released

Another process's side: `await read_state(url)`, `status_table(state)`.
"""

from typing import TYPE_CHECKING

from modelmesh_healthd._lazy import lazy_exports

if TYPE_CHECKING:
    from modelmesh_healthd.storage.base import (
        Envelope,
        LoadResult,
        LockHandle,
        LockOwner,
        Row,
        SetAside,
        StateStore,
        WriteBatch,
    )
    from modelmesh_healthd.storage.errors import (
        LockLostError,
        StoreError,
        StoreLockedError,
        StoreResetError,
        StoreUnavailableError,
        StoreURLError,
    )
    from modelmesh_healthd.storage.log import LOG_EVENTS
    from modelmesh_healthd.storage.manager import WRITE_TICK, StateManager, SyncPolicy
    from modelmesh_healthd.storage.read_only import (
        read_owners,
        read_snapshot,
        read_state,
        read_votes,
    )
    from modelmesh_healthd.storage.status import (
        PoolRow,
        ProviderRow,
        StatusTable,
        SyncStatus,
        status_table,
    )
    from modelmesh_healthd.storage.urls import default_store_url, open_store, redact_url

__all__ = [
    "LOG_EVENTS",
    "WRITE_TICK",
    "Envelope",
    "LoadResult",
    "LockHandle",
    "LockLostError",
    "LockOwner",
    "PoolRow",
    "ProviderRow",
    "Row",
    "SetAside",
    "StateManager",
    "StateStore",
    "StatusTable",
    "StoreError",
    "StoreLockedError",
    "StoreResetError",
    "StoreURLError",
    "StoreUnavailableError",
    "SyncPolicy",
    "SyncStatus",
    "WriteBatch",
    "default_store_url",
    "open_store",
    "read_owners",
    "read_snapshot",
    "read_state",
    "read_votes",
    "redact_url",
    "status_table",
]

# Each name's module is imported on first use (PEP 562): importing one module of this package
# runs this file first, and should not cost every other module's import.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "base": (
            "Envelope",
            "LoadResult",
            "LockHandle",
            "LockOwner",
            "Row",
            "SetAside",
            "StateStore",
            "WriteBatch",
        ),
        "errors": (
            "LockLostError",
            "StoreError",
            "StoreLockedError",
            "StoreResetError",
            "StoreUnavailableError",
            "StoreURLError",
        ),
        "log": ("LOG_EVENTS",),
        "manager": ("WRITE_TICK", "StateManager", "SyncPolicy"),
        "read_only": ("read_owners", "read_snapshot", "read_state", "read_votes"),
        "status": ("PoolRow", "ProviderRow", "StatusTable", "SyncStatus", "status_table"),
        "urls": ("default_store_url", "open_store", "redact_url"),
    },
)
