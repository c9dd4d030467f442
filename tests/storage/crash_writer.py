"""A daemon-like writer process for the crash and lock tests (run as a script, killed with SIGKILL).

Usage:
    crash_writer.py hold URL        take the lock, print "locked", sleep until killed
    crash_writer.py write URL       start, load, reconcile, full save, print "ready", then probe
                                    and persist (policy immediate) as fast as it can until killed
"""

from __future__ import annotations

import asyncio
import sys
import time

import structlog
from storage_support import probe_step, small_mesh

from modelmesh_healthd.state import reconcile
from modelmesh_healthd.storage import StateManager, open_store


async def _hold(url: str) -> None:
    manager = StateManager(open_store(url), writer_id="crash-writer")
    await manager.start()
    print("locked", flush=True)
    await asyncio.sleep(3600)


async def _write(url: str) -> None:
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
    print("ready", flush=True)
    step = 0
    while True:
        manager.record(probe_step(mesh, state, step, time.time()))
        step += 1
        if step % 4 == 0:
            # A daemon waits on the network between probes; a loop that never sleeps would
            # also starve the store's thread of the GIL and hardly ever write.
            await asyncio.sleep(0.001)


def main() -> None:
    """Entry point (see the module docstring)."""
    mode, url = sys.argv[1], sys.argv[2]
    # stdout carries the protocol lines; the logs go to stderr, which the tests discard.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    asyncio.run(_hold(url) if mode == "hold" else _write(url))


if __name__ == "__main__":
    main()
