"""Redis clients whose sockets can all be closed in one step that nothing can cut short.

redis-py's `aclose()` closes a client's connections by gathering one disconnect task per
connection. Cancelled at that moment (a reader giving up on a slow store, an event loop shutting
down), the gather cancels those tasks before they ever run: their sockets stay open, and the
garbage collector finds them later, possibly after the loop closed ("unclosed Connection",
"Event loop is closed"). A call left behind on purpose (`notify`) can also connect again after
its client was closed.

The pool here remembers the connections it made (weakly: a connection nobody holds any more is
garbage either way), and the client's `aclose()` ends, whatever cut it short, by closing every
one of them (`close_sockets`). An owner that gives up on a hung close calls `close_sockets`
itself.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import ConnectionPool, Redis

__all__ = ["close_sockets", "owned_client"]


@functools.cache
def _pool_class() -> type[ConnectionPool]:
    from redis.asyncio import ConnectionPool

    class _RememberingPool(ConnectionPool):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.made: weakref.WeakSet[Any] = weakref.WeakSet()
            super().__init__(*args, **kwargs)

        def make_connection(self) -> Any:
            # unannotated in redis-py
            connection = super().make_connection()  # type: ignore[no-untyped-call]
            self.made.add(connection)
            return connection

    return _RememberingPool


@functools.cache
def _client_class() -> type[Redis]:
    from redis.asyncio import Redis

    class _ClosingRedis(Redis):
        async def aclose(self, close_connection_pool: bool | None = None) -> None:
            try:
                await super().aclose(close_connection_pool)
            finally:
                await close_sockets(self)  # what a cancelled close did not reach

    return _ClosingRedis


def owned_client(url: str, **options: Any) -> Redis:
    """`Redis.from_url(url, **options)` (closing its pool with it), on a pool whose connections
    `close_sockets` can reach, and whose `aclose()` closes every one of them."""
    client = _client_class()(connection_pool=_pool_class().from_url(url, **options))
    client.auto_close_connection_pool = True  # as `Redis.from_url` does: the pool is the client's
    return client


async def close_sockets(client: Redis) -> None:
    """Close every socket `client` has open, whatever is still using it.

    `disconnect(nowait=True)` closes its socket before its first await (it does not wait for the
    server), so a cancellation arriving meanwhile cannot leave one open. A call still running on
    a connection sees it closed and fails (or connects again: its owner calls this once more
    when that call ends).
    """
    made = getattr(client.connection_pool, "made", ())
    for connection in list(made):
        with contextlib.suppress(Exception):
            await connection.disconnect(nowait=True)
