"""cancel_and_wait: the stop's tasks end even when they swallow a cancellation, in bounded time."""

from __future__ import annotations

import asyncio

import pytest

from modelmesh_healthd.daemon.cancelling import cancel_and_wait


class Stubborn:
    """A loop that returns from its first `swallows` cancellations as if not cancelled: what
    asyncio.wait_for does on Python 3.11 when the call it wraps has just finished."""

    def __init__(self, swallows: int) -> None:
        self.swallows = swallows
        self.cancellations = 0

    async def run(self) -> None:
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancellations += 1
                if self.cancellations > self.swallows:
                    raise


@pytest.mark.parametrize("swallows", [0, 1, 3])
async def test_a_task_that_carries_on_after_a_cancellation_is_cancelled_until_it_ends(
    swallows: int,
) -> None:
    stubborn = Stubborn(swallows)
    task = asyncio.create_task(stubborn.run())
    await asyncio.sleep(0)  # running, in its wait
    assert await cancel_and_wait([task], 30.0, again_every=0.01) == set()
    assert task.cancelled()
    assert stubborn.cancellations == swallows + 1


async def test_a_task_that_never_ends_is_given_back_after_the_deadline() -> None:
    stubborn = Stubborn(10**9)
    stuck = asyncio.create_task(stubborn.run())
    quick = asyncio.create_task(Stubborn(0).run())
    await asyncio.sleep(0)
    left = await cancel_and_wait([stuck, quick], 0.2, again_every=0.05)
    assert left == {stuck}
    assert quick.cancelled()
    assert stubborn.cancellations > 1  # cancelled again, not only once
    stubborn.swallows = 0  # the test's own clean-up
    assert await cancel_and_wait([stuck], 30.0) == set()


async def test_tasks_that_failed_or_finished_are_not_waited_for() -> None:
    async def fails() -> None:
        raise RuntimeError("a fault of its own")

    failed = asyncio.create_task(fails())
    finished = asyncio.create_task(asyncio.sleep(0))
    await asyncio.wait([failed, finished])
    assert await cancel_and_wait([failed, finished], 30.0) == set()
    assert isinstance(failed.exception(), RuntimeError)
