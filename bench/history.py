"""Availability history benchmark: what accounting, compaction and a history save cost.

    .venv/bin/python bench/history.py [--subjects 1000] [--changes 2000]

For one subject whose log is full (the raw part at `--changes` entries, 31 days of folded
buckets) it measures, in microseconds: `availability` over each window, all four windows (what a
metrics scrape computes per provider), `compact`, and `record`. Then, for `--subjects` such
subjects, the size of the stored JSON and the time to save them all and load them back from the
memory and SQLite-side history stores. Last, a fleet's file (`--fleet` providers and one model
each, two entries per subject, as after a first round of probes): the CPU of one save of 100
changed subjects into it, in the writer thread (min of 5). Pure CPU apart from the store rows;
no network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Callable

from modelmesh_healthd.state.history import (
    DOWN,
    UP,
    WINDOWS,
    History,
    availability,
    compact,
    record,
)
from modelmesh_healthd.storage.history_store import open_history_store

NOW = 2_000_000_000.0


def full_history(changes: int) -> History:
    """31 days of flapping every few minutes, then compacted: a full bucket part and raw tail."""
    h = History()
    span = 31 * 86400.0
    step = span / (changes * 20)
    for i in range(changes * 20):
        h = record(h, NOW - span + i * step, DOWN if i % 2 else UP)
    return compact(h, NOW, max_entries=changes)


def timed(fn: Callable[[], object], repeat: int = 200) -> float:
    """Median microseconds of `fn`."""
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e6


async def store_round_trip(url: str, histories: dict[str, History]) -> tuple[float, float]:
    async with open_history_store(url) as store:
        t = time.perf_counter()
        await store.save(histories)
        saved = time.perf_counter() - t
        t = time.perf_counter()
        loaded = await store.load()
        read = time.perf_counter() - t
    assert len(loaded.histories) == len(histories)
    return saved * 1000, read * 1000


async def fleet_save(url: str, fleet: int) -> float:
    first = record(record(History(), NOW, "unknown"), NOW + 5, UP)
    subjects = {f"provider:p{i}": first for i in range(fleet)}
    subjects.update({f"model:p{i}.m": first for i in range(fleet)})
    changed = record(first, NOW + 60, DOWN)
    cpu = []
    async with open_history_store(url) as store:
        await store.save(subjects)
        for r in range(5):
            batch = {f"provider:p{i}": changed for i in range(r * 100, r * 100 + 100)}
            t = time.process_time()
            await store.save(batch)
            cpu.append(time.process_time() - t)
    return min(cpu) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=2000)
    parser.add_argument("--fleet", type=int, default=10_000)
    args = parser.parse_args()
    h = full_history(args.changes)
    print(f"one subject: {len(h.entries)} raw entries, {len(h.buckets)} folded buckets\n")
    print(f"{'operation':<34}{'median':>12}")
    for label, secs in WINDOWS.items():
        us = timed(lambda s=secs: availability(h, NOW, s))
        print(f"{'availability ' + label:<34}{us:>10.0f} us")
    us = timed(lambda: [availability(h, NOW, s) for s in WINDOWS.values()])
    print(f"{'all four windows (one scrape)':<34}{us:>10.0f} us")
    print(f"{'compact (nothing to fold)':<34}{timed(lambda: compact(h, NOW)):>10.0f} us")
    later = NOW + 3600
    print(f"{'compact (an hour to fold)':<34}{timed(lambda: compact(h, later), 50):>10.0f} us")
    other = UP if h.current == DOWN else DOWN
    print(f"{'record a change':<34}{timed(lambda: record(h, later, other)):>10.0f} us")
    size = len(json.dumps(h.to_dict()))
    print(f"\n{args.subjects} such subjects, {size / 1024:.0f} KiB of JSON each")
    histories = {f"provider:p{i}": h for i in range(args.subjects)}
    with tempfile.TemporaryDirectory() as tmp:
        for url in ("memory://bench-history", f"sqlite:///{tmp}/state.db"):
            saved, read = asyncio.run(store_round_trip(url, histories))
            print(f"{url.split(':')[0] + ' save / load':<34}{saved:>8.0f} ms / {read:.0f} ms")
        ms = asyncio.run(fleet_save(f"sqlite:///{tmp}/fleet.db", args.fleet))
        print(f"\n{'sqlite save of 100 changed':<34}{ms:>8.0f} ms CPU ({2 * args.fleet} subjects)")


if __name__ == "__main__":
    main()
