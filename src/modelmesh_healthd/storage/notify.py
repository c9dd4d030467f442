"""Change notifications for readers in other processes: part of the read API, like `read_only.py`.

The Redis store PUBLISHes on `<prefix>changed` and the PostgreSQL store NOTIFYs `<schema>_changed`
with every write, so a reader can re-read as soon as the daemon wrote instead of polling. SQLite,
file and memory stores have no such channel (`change_feed` returns None): readers poll them.

A feed only says "something changed": the reader then reads one consistent cut with
`read_snapshot`. A notification lost while the feed reconnects costs nothing but latency, since
readers also re-read on a timer.
"""

from __future__ import annotations

from collections.abc import Awaitable
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from modelmesh_healthd.storage import left_behind
from modelmesh_healthd.storage.errors import StoreUnavailableError
from modelmesh_healthd.storage.redis_sockets import close_sockets, owned_client
from modelmesh_healthd.storage.urls import open_store, redact_url, split_options

__all__ = ["ChangeFeed", "change_feed"]

T = TypeVar("T")

_REDIS_OPTIONS = {"prefix": "modelmesh-healthd:", "lock_ttl": "15", "timeout": "5"}
_POSTGRES_OPTIONS = {"schema": "modelmesh_healthd", "pool_max": "4", "timeout": "5"}


class ChangeFeed(Protocol):
    """Announcements that the store was written. Use as `async with feed:`."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def wait(self, within: float) -> bool:
        """Wait up to `within` seconds for a write.

        Returns:
            True if a write was announced, False if the time ran out.

        Raises:
            StoreUnavailableError: The connection to the store is lost (open a new feed).
        """
        ...


def change_feed(url: str) -> ChangeFeed | None:
    """The change feed of the store at `url`, or None when that backend has none (poll it).

    Raises:
        StoreURLError: Bad URL.
    """
    store = open_store(url)
    channel = getattr(store, "changes_channel", None)
    if not isinstance(channel, str):
        return None
    scheme = url.split(":", 1)[0].lower()
    if scheme.startswith("redis"):
        bare, options = split_options(url, _REDIS_OPTIONS)
        return _RedisFeed(bare, channel, float(options["timeout"]), redact_url(url))
    bare, options = split_options(url, _POSTGRES_OPTIONS)
    conninfo = "postgresql" + bare[bare.index(":") :]
    return _PostgresFeed(conninfo, channel, float(options["timeout"]), redact_url(url))


class _RedisFeed:
    def __init__(self, url: str, channel: str, timeout: float, shown: str) -> None:
        self._url, self._channel, self._timeout, self._shown = url, channel, timeout, shown
        self._client: Any = None
        self._pubsub: Any = None
        self._closed = False

    async def __aenter__(self) -> Self:
        from redis.exceptions import RedisError

        client = self._client = owned_client(self._url, socket_connect_timeout=self._timeout)
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await self._guarded(self._pubsub.subscribe(self._channel))
        except (RedisError, OSError) as exc:
            await self._close()
            raise StoreUnavailableError(f"redis {self._shown}: {type(exc).__name__}") from None
        except BaseException:
            # Cancelled half-way: the connection made so far goes at once (the canceller does
            # not want to wait for a polite close).
            self._closed = True
            self._pubsub = self._client = None
            await close_sockets(client)
            raise
        if self._closed:  # closed by an owner that gave up on this opening, which went on
            raise StoreUnavailableError(f"redis {self._shown}: closed while subscribing")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._close()

    async def _close(self) -> None:
        self._closed = True
        pubsub, client = self._pubsub, self._client
        self._pubsub = self._client = None
        try:
            if pubsub is not None:
                await left_behind.close_within(pubsub.aclose(), self._timeout)
            if client is not None:
                await left_behind.close_within(client.aclose(), self._timeout)
        finally:
            # A clean-up cancelled or left behind may not have reached every socket.
            if client is not None:
                await close_sockets(client)

    async def _guarded(self, call: Awaitable[T]) -> T:
        """Run a redis-py call that may be left behind (`left_behind`) and outlive the feed.

        If the feed was closed meanwhile, whatever the call still has connected (redis-py
        connects and subscribes again on its own when a connection drops under a read) is closed
        when it ends, so no socket outlives the feed by more than the call itself.
        """
        client = self._client
        try:
            return await call
        finally:
            if self._closed and client is not None:
                await close_sockets(client)

    async def wait(self, within: float) -> bool:
        from redis.exceptions import RedisError

        # After the server went away and came back, redis-py's get_message can wait forever
        # and ignore its cancellation: bound it from outside and give up on it.
        read = self._guarded(self._pubsub.get_message(timeout=within))
        try:
            message = await left_behind.within(read, within + self._timeout)
        except TimeoutError:
            raise StoreUnavailableError(
                f"redis {self._shown}: no answer from the subscription"
            ) from None
        except (RedisError, OSError) as exc:
            raise StoreUnavailableError(f"redis {self._shown}: {type(exc).__name__}") from None
        return message is not None


class _PostgresFeed:
    def __init__(self, conninfo: str, channel: str, timeout: float, shown: str) -> None:
        self._conninfo, self._channel, self._timeout, self._shown = (
            conninfo,
            channel,
            timeout,
            shown,
        )
        self._conn: Any = None

    async def __aenter__(self) -> Self:
        import psycopg
        from psycopg import sql

        try:
            self._conn = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, connect_timeout=max(1, int(self._timeout))
            )
            await self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        except (psycopg.Error, OSError) as exc:
            await self.__aexit__()
            raise StoreUnavailableError(f"postgresql {self._shown}: {type(exc).__name__}") from None
        except BaseException:
            await self.__aexit__()  # cancelled half-way: the connection made so far goes too
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await left_behind.close_within(conn.close(), self._timeout)
        finally:
            if not conn.closed:  # the close was cut short or left behind
                conn.pgconn.finish()  # psycopg's own close ends with this; it does not suspend

    async def wait(self, within: float) -> bool:
        import psycopg

        try:
            async for _ in self._conn.notifies(timeout=within, stop_after=1):
                return True
        except (psycopg.Error, OSError) as exc:
            raise StoreUnavailableError(f"postgresql {self._shown}: {type(exc).__name__}") from None
        return False
