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

import pytest
from redis.asyncio import Redis

from modelmesh_healthd.storage import StoreUnavailableError, open_store
from modelmesh_healthd.storage.notify import ChangeFeed, change_feed
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


def feed_of(url: str) -> ChangeFeed:
    feed = change_feed(url)
    assert feed is not None
    return feed


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


async def test_a_change_feed_closed_while_it_subscribes_ends_closed(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    feed = feed_of(server.url)
    opening = asyncio.ensure_future(feed.__aenter__())
    await asyncio.sleep(0)  # connecting now
    assert not opening.done()
    # Its owner gives up on it and closes it; the opening goes on, as one that ignored its
    # cancellation does.
    await feed.__aexit__(None, None, None)
    with pytest.raises(StoreUnavailableError):
        await opening
    assert await until_no_other_clients(server) == 0


async def test_a_change_feed_closed_during_a_read_leaves_no_connection_once_the_read_ends(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    channel = open_store(server.url).changes_channel
    feed = feed_of(server.url)
    await feed.__aenter__()
    async with Redis.from_url(server.url) as publisher:
        await publisher.publish(channel, "written")
        while not await feed.wait(10.0):  # the subscription's confirmation comes first
            pass
    reading = asyncio.ensure_future(feed.wait(2.0))
    await asyncio.sleep(0.1)  # the read waits for a message
    assert not reading.done()
    # Closed under it, redis-py's read connects again on its own and waits out its time.
    await feed.__aexit__(None, None, None)
    with contextlib.suppress(StoreUnavailableError):
        await reading
    assert await until_no_other_clients(server) == 0
