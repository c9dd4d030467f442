"""Driver calls bounded from outside and, past their time, left behind.

After a server went away and came back, redis-py calls were seen to ignore their cancellation
(on Python 3.11, `asyncio.wait_for` inside redis-py drops a cancellation that arrives as the
call finishes), so `asyncio.timeout` would hang the caller with them. These helpers wait for
at most a given time, then cancel the call and stop waiting for it. What it ends with later is
taken, so asyncio does not report it as never retrieved; what it holds open is its owner's to
close (`storage/redis_sockets.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

__all__ = ["close_within", "within"]

T = TypeVar("T")


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """The result of `awaitable` if it comes within `seconds`.

    Raises:
        TimeoutError: No result in time (the call is cancelled and left behind).
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    finally:
        if not task.done():
            _leave(task)
    if not done:
        raise TimeoutError
    return task.result()


async def close_within(awaitable: Awaitable[object], seconds: float) -> None:
    """Await a driver's clean-up for at most `seconds`, then leave it: a hung close must not
    hang its caller. Its errors are of no interest (the connection is being dropped)."""
    task = asyncio.ensure_future(awaitable)
    try:
        await asyncio.wait({task}, timeout=seconds)
    finally:
        if not task.done():
            _leave(task)
        else:
            _forget(task)


def _leave(task: asyncio.Future[Any]) -> None:
    task.cancel()
    task.add_done_callback(_forget)


def _forget(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
