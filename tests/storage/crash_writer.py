"""A daemon-like writer process for the crash and lock tests (killed with SIGKILL).

Usage as a script:
    crash_writer.py hold URL        take the lock, print "locked", sleep until killed
    crash_writer.py write URL       start, load, reconcile, full save, print "ready", then probe
                                    and persist (policy immediate) as fast as it can until killed

The crash test starts dozens of writers, so it forks them from a multiprocessing fork server
that has imported this module once (`write_in_child`), instead of paying a fresh interpreter's
imports per writer; the process is as real and is killed the same way.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import TextIO

import structlog
from storage_support import probe_step, small_mesh

from modelmesh_healthd.state import reconcile
from modelmesh_healthd.storage import StateManager, open_store


async def _hold(url: str) -> None:
    manager = StateManager(open_store(url), writer_id="crash-writer")
    await manager.start()
    print("locked", flush=True)
    await asyncio.sleep(3600)


async def _write(url: str, ready: Callable[[], None]) -> None:
    mesh = small_mesh()
    manager = StateManager(open_store(url), writer_id="crash-writer", retry_initial=0.01)
    deadline = time.monotonic() + 10.0
    while True:  # the previous writer's lease (Redis) may not have run out yet
        try:
            await manager.start()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
    restored = await manager.load()
    state, _ = reconcile(mesh, restored, time.time())
    manager.attach(state, mesh)
    await manager.wait_idle()
    ready()
    step = 0
    while True:
        manager.record(probe_step(mesh, state, step, time.time()))
        step += 1
        if step % 4 == 0:
            # A daemon waits on the network between probes; a loop that never sleeps would
            # also starve the store's thread of the GIL and hardly ever write.
            await asyncio.sleep(0.001)


def _quiet_logs(sink: TextIO) -> None:
    # The protocol lines are not logs: the logs go where the tests discard them.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sink))


def write_in_child(url: str, ready: Connection) -> None:
    """The `write` mode in a forked child: sends "ready" on the pipe instead of printing it."""
    with open(os.devnull, "w") as sink:  # the child inherits the fork server's stderr
        _quiet_logs(sink)
        asyncio.run(_write(url, lambda: ready.send("ready")))


def main() -> None:
    """Entry point (see the module docstring)."""
    mode, url = sys.argv[1], sys.argv[2]
    _quiet_logs(sys.stderr)
    if mode == "hold":
        asyncio.run(_hold(url))
    else:
        asyncio.run(_write(url, lambda: print("ready", flush=True)))


if __name__ == "__main__":
    main()
