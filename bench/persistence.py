"""Persistence benchmark: full-save time and per-change time under `immediate`, per backend.

    .venv/bin/python bench/persistence.py [--sizes 100,1000,10000] [--backends ...] [--changes 40]

For each backend and fleet size (N providers, 10 models each, spread over 3 pools) it measures:

* full save: `StateManager.save()` of the whole state (serialization on the loop + the write);
* per probe: one healthy probe recorded under `immediate` until it is written (`wait_idle`);
* per outage: the probe that takes a provider down (its 10 models to standby in their pools);
* load: what a restarted daemon's `load()` takes to read and verify it all back.

Targets: per-change cost flat across sizes (within 2x from 100 to 10,000 providers) and a full
save of 10,000 providers under 1 s on SQLite. Redis and PostgreSQL come from
MODELMESH_HEALTHD_BENCH_REDIS_URL / _POSTGRES_URL (default: the local servers); a backend that
cannot be reached is reported as such. Each run uses a fresh store and removes it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass

import structlog

from modelmesh_healthd.state import Mesh, Observation, Outcome, apply_probe, initial_state
from modelmesh_healthd.storage import StateManager, StoreError, open_store
from modelmesh_healthd.storage.memory_store import MemoryStore

REDIS = os.environ.get("MODELMESH_HEALTHD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES = os.environ.get(
    "MODELMESH_HEALTHD_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("memory", "file", "sqlite", "redis", "postgres")


def fleet(providers: int, models_per: int = 10, pools: int = 3) -> Mesh:
    """N providers with `models_per` models each, every model in one of `pools` pools."""
    names = [f"provider-{i:05d}" for i in range(providers)]
    models = {f"{p}/model-{j}": p for p in names for j in range(models_per)}
    members: dict[str, list[str]] = {f"pool-{k}": [] for k in range(pools)}
    for n, model in enumerate(models):
        members[f"pool-{n % pools}"].append(model)
    return Mesh.build(names, models, members)


@dataclass
class Result:
    backend: str
    providers: int
    rows: int
    full_save_s: float
    probe_s: float
    outage_s: float
    load_s: float


def store_url(backend: str, workdir: str) -> str:
    tag = uuid.uuid4().hex[:10]
    return {
        "memory": f"memory://bench-{tag}",
        "file": f"file://{workdir}/{tag}/state.json",
        "sqlite": f"sqlite:///{workdir}/{tag}/state.db",
        "redis": f"{REDIS}?prefix=bench-{tag}:",
        "postgres": f"{POSTGRES}?schema=bench_{tag}",
    }[backend]


async def cleanup(backend: str, url: str) -> None:
    if backend == "memory":
        MemoryStore.drop(url.removeprefix("memory://"))
    elif backend == "redis":
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(REDIS)
        prefix = url.split("prefix=", 1)[1]
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    elif backend == "postgres":
        import psycopg

        schema = url.split("schema=", 1)[1]
        async with await psycopg.AsyncConnection.connect(POSTGRES, autocommit=True) as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


async def measure(backend: str, providers: int, changes: int, workdir: str) -> Result:
    mesh = fleet(providers)
    state = initial_state(mesh)
    url = store_url(backend, workdir)
    manager = StateManager(open_store(url), writer_id="bench")
    await manager.start()
    try:
        await manager.load()
        manager.attach(state, mesh)
        await manager.wait_idle()  # the first full save creates tables; not the one measured
        saves = []
        for _ in range(3):
            started = time.perf_counter()
            if not await manager.save():
                raise StoreError(manager.get_sync_status().last_error or "full save failed")
            saves.append(time.perf_counter() - started)
        full = statistics.median(saves)

        now = 1_000.0
        step = max(1, providers // changes)
        probe_times = []
        for i in range(changes):
            provider = mesh.providers[(i * step) % providers]
            now += 0.01
            started = time.perf_counter()
            manager.record(apply_probe(mesh, state, provider, Observation(Outcome.OK, 0.1), now))
            await manager.wait_idle()
            probe_times.append(time.perf_counter() - started)

        outage_times = []
        for i in range(min(changes, providers)):
            provider = mesh.providers[(i * step + 1) % providers]
            for _ in range(2):  # two failures: still up
                manager.record(
                    apply_probe(mesh, state, provider, Observation(Outcome.TIMEOUT), now)
                )
            await manager.wait_idle()
            now += 0.01
            started = time.perf_counter()
            events = apply_probe(mesh, state, provider, Observation(Outcome.TIMEOUT), now)
            manager.record(events)
            await manager.wait_idle()
            outage_times.append(time.perf_counter() - started)
            assert not state.providers[provider].is_healthy()
        rows = len(state.providers) + 2 * len(state.pools)  # provider rows + pool rows
        await manager.stop()
        # A restart: a new writer loads what the last one left (named memory stores persist
        # within the process too).
        restarted = StateManager(open_store(url), writer_id="bench-restart")
        await restarted.start()
        started = time.perf_counter()
        restored = await restarted.load()
        load = time.perf_counter() - started
        await restarted.stop()
        assert restored is not None
        assert restored.to_dict() == state.to_dict()
    finally:
        await manager.stop()
        await cleanup(backend, url)
    return Result(
        backend,
        providers,
        rows,
        full,
        statistics.median(probe_times),
        statistics.median(outage_times),
        load,
    )


def fmt(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 0.001:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--changes", type=int, default=40, help="changes measured per size")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = args.backends.split(",")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))

    results: list[Result] = []
    print(
        f"{'backend':<9} {'providers':>9} {'rows':>7} {'full save':>10} {'per probe':>10} "
        f"{'per outage':>11} {'load':>9}   (medians: 3 full saves, {args.changes} changes)"
    )
    with tempfile.TemporaryDirectory(prefix="healthd-bench-") as workdir:
        for backend in backends:
            for size in sizes:
                # Whole-document writes of a 10,000-provider fleet are slow by nature: fewer.
                changes = args.changes if backend != "file" or size < 10_000 else 5
                try:
                    r = await measure(backend, size, changes, workdir)
                except (StoreError, OSError) as exc:
                    print(f"{backend:<9} {size:>9,} unavailable: {exc}")
                    break
                results.append(r)
                print(
                    f"{r.backend:<9} {r.providers:>9,} {r.rows:>7,} {fmt(r.full_save_s):>10} "
                    f"{fmt(r.probe_s):>10} {fmt(r.outage_s):>11} {fmt(r.load_s):>9}",
                    flush=True,
                )

    print()
    for backend in backends:
        mine = {r.providers: r for r in results if r.backend == backend}
        if len(mine) < 2:
            continue
        small, large = mine[min(mine)], mine[max(mine)]
        print(
            f"{backend:<9} per-change growth {small.providers:,} -> {large.providers:,} "
            f"providers: probe x{large.probe_s / small.probe_s:.2f}, "
            f"outage x{large.outage_s / small.outage_s:.2f}"
        )
    sqlite_big = [r for r in results if r.backend == "sqlite" and r.providers == 10_000]
    if sqlite_big:
        verdict = "met" if sqlite_big[0].full_save_s < 1.0 else "NOT met"
        print(
            f"target full save of 10,000 providers on SQLite < 1 s: "
            f"{fmt(sqlite_big[0].full_save_s)} ({verdict})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
