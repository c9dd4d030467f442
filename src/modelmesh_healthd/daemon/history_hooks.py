"""The availability history wired into the daemon: its recorder, start, stop and replicas' share.

`history.HistoryRecorder` records and saves; this module gives it the daemon's state, its
maintenance test (an override or a window), and under replicas the one-writer rule: the
provider's lease holder writes its subjects, and hands them over before the lease goes.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from modelmesh_healthd.daemon.history import HistoryRecorder
from modelmesh_healthd.daemon.overrides_hooks import held_for_maintenance
from modelmesh_healthd.daemon.runtime import DaemonRuntime

if TYPE_CHECKING:
    from modelmesh_healthd.daemon.coordination import Coordinator

__all__ = ["history_recorder", "share_history", "start_history", "stop_history"]


def history_recorder(daemon: DaemonRuntime) -> HistoryRecorder:
    """The daemon's recorder (it records nothing before `start_history`)."""
    return HistoryRecorder(
        daemon.store_url, maintenance=lambda name: held_for_maintenance(daemon, name)
    )


def share_history(history: HistoryRecorder, coordinator: Coordinator) -> None:
    """One writer per history subject among replicas: the provider's lease holder."""
    history.share(coordinator.owns_provider)
    coordinator.on_hand_over.append(history.hand_over)


async def start_history(daemon: DaemonRuntime) -> None:
    """Load the stored history and record from the daemon's state of the moment."""
    await daemon.history.start(
        lambda: daemon.state, lambda: daemon.mesh, lambda: daemon.policy, daemon.wall_clock
    )


async def stop_history(daemon: DaemonRuntime, budget: float) -> None:
    """Record the end of watching and save within `budget` seconds; never into a store another
    writer took over (its log is the new writer's)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(budget):
            lost = daemon.manager is not None and daemon.manager.lock_lost
            await daemon.history.stop(save=not lost)
