"""Connections to Redis are closed even when their clean-up is cut short or a call outlives it.

A reader that gives up on a slow store (attach's bounded reads, the change feed's bounded reads
and clean-up, an event loop shutting down) cancels whatever is closing at that moment, and leaves
behind a call that may ignore its cancellation (Python 3.11's `wait_for`, inside redis-py, can).
A connection nothing closes stays open until the garbage collector finds it, possibly after its
event loop closed: "unclosed Connection" and "Event loop is closed" in whatever test runs then.

Each test asks the server which clients it still has: a socket the client side closed is one the
server sees go.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from redis.asyncio import Redis

from modelmesh_healthd.storage import open_store
from service_support import RedisServer, RedisServerFactory


async def other_clients(server: RedisServer) -> int:
    """Connections the server holds, besides the one asking."""
    admin = Redis.from_url(server.url)
    try:
        return len(await admin.client_list()) - 1
    finally:
        await admin.aclose()


async def until_no_other_clients(server: RedisServer) -> int:
    """Wait (10 s at most) for the server to see every other client go; the count left."""
    deadline = time.monotonic() + 10.0
    while True:
        left = await other_clients(server)
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.02)


async def test_a_redis_store_whose_close_is_cancelled_leaves_no_connection_open(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    store = open_store(server.url)
    await store.__aenter__()
    await store.load(repair=False)
    assert await other_clients(server) == 1

    closing = asyncio.ensure_future(store.__aexit__(None, None, None))
    await asyncio.sleep(0)  # the close runs up to its first wait (redis-py's own close)...
    assert not closing.done()
    closing.cancel()  # ...and is cancelled there, as by a reader giving up
    with contextlib.suppress(asyncio.CancelledError):
        await closing

    assert await until_no_other_clients(server) == 0
