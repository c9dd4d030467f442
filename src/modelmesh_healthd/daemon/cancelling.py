"""Cancelling the daemon's own tasks at stop, in bounded time, even those that swallow it.

On Python 3.11, `asyncio.wait_for` returns the result of the call it wraps when that call
finished just as the cancellation arrived: the caller carries on as if it had never been
cancelled. redis-py sends every command through `wait_for` (it has a socket timeout), and
psycopg_pool waits for a free connection through it, so a stop that cancels a coordinator round
or a history save in that instant leaves its loop running. `asyncio.gather` on such a task waits
for ever; `cancel_and_wait` cancels it again until it ends, and gives up after a deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

__all__ = ["cancel_and_wait"]

AGAIN_EVERY = 0.5
"""Seconds between cancellations of a task still running: long enough for a task to finish
what a cancellation makes it do (psycopg cancels its query on the server and waits for that),
short enough that a swallowed one costs the stop at most one more store call."""


async def cancel_and_wait(
    tasks: Collection[asyncio.Task[Any]], within: float, *, again_every: float = AGAIN_EVERY
) -> set[asyncio.Task[Any]]:
    """Cancel `tasks` and wait until they end, cancelling again those that carry on.

    Args:
        tasks: The tasks to end.
        within: Seconds to wait at most (the caller's stop goes on after them).
        again_every: Seconds between cancellations of a task that is still running.

    Returns:
        The tasks still running after `within` seconds (none unless one ignores every
        cancellation). The exceptions of those that ended are retrieved, not raised, as
        `asyncio.gather(..., return_exceptions=True)` does.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            break
        _, pending = await asyncio.wait(pending, timeout=min(again_every, left))
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: asyncio would log it as never retrieved
    return pending
