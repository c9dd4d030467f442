"""Helpers for the storage tests: small meshes, a probing-like driver, consistency checks.

Imported by the tests and by the crash-writer subprocess (so: no pytest imports here).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from modelmesh_healthd.state import (
    Event,
    Mesh,
    Observation,
    Outcome,
    SystemState,
    apply_probe,
)
from modelmesh_healthd.storage import StateManager, StoreLockedError, open_store

BACKENDS = ("memory", "file", "sqlite", "redis", "postgres")


def small_mesh(providers: int = 4, models_per: int = 3) -> Mesh:
    """Providers p0.., models `p<i>/m<j>`; pools `chat` (m0s), `embed` (m1s), `all` (m0s and m2s).

    Model m0 of each provider sits in two pools, so one deactivation touches two pools.
    """
    names = [f"p{i}" for i in range(providers)]
    models = {f"p{i}/m{j}": f"p{i}" for i in range(providers) for j in range(models_per)}
    pools = {
        "chat": [m for m in models if m.endswith("/m0")],
        "embed": [m for m in models if m.endswith("/m1")],
        "all": [m for m in models if m.endswith(("/m0", "/m2"))],
    }
    return Mesh.build(names, models, pools)


def probe_step(mesh: Mesh, state: SystemState, step: int, now: float) -> list[Event]:
    """One deterministic probe: providers in turn, each cycling through outages and recoveries.

    Every provider gets 4 failed probes (enough to go down), then 6 good ones (enough to come
    back), so a run of a few dozen steps exercises deactivation and reactivation everywhere.
    """
    providers = mesh.providers
    provider = providers[step % len(providers)]
    round_ = step // len(providers)
    outcome = Outcome.CONNECT_ERROR if round_ % 10 < 4 else Outcome.OK
    return apply_probe(mesh, state, provider, Observation(outcome, latency=0.01 * (step % 7)), now)


def consistency_errors(state: SystemState, mesh: Mesh) -> list[str]:
    """Cross-row invariants the core keeps after every transition; a torn write breaks them.

    Returns:
        Human-readable violations (empty when consistent).
    """
    errors = []
    if set(state.providers) != set(mesh.providers):
        errors.append(f"providers {sorted(set(mesh.providers) ^ set(state.providers))} differ")
    if set(state.models) != set(mesh.model_provider):
        errors.append(f"models {sorted(set(mesh.model_provider) ^ set(state.models))} differ")
    if set(state.pools) != set(mesh.pools):
        errors.append("pools differ")
    for pool_id, members in mesh.pools.items():
        pool = state.pools.get(pool_id)
        if pool is None:
            continue
        for model in members:
            ms = state.models.get(model)
            if ms is None:
                continue
            where = "active" if model in pool.active_models else "standby"
            if model not in pool.active_models | pool.standby_models:
                where = "absent"
            if where != ms.status:
                errors.append(f"{model} is {ms.status} but {where} in pool {pool_id}")
    for provider, ps in state.providers.items():
        active = sum(
            1
            for m in mesh.provider_models[provider]
            if m in state.models and state.models[m].is_active
        )
        if ps.active_model_count != active:
            errors.append(f"{provider} counts {ps.active_model_count} active models, has {active}")
        if ps.last_probe is not None and (
            state.timestamp is None or ps.last_probe > state.timestamp
        ):
            errors.append(f"{provider} probed at {ps.last_probe}, after the state's timestamp")
    return errors


def read_bytes(path: Path) -> bytes:
    """A file's bytes (a plain function, so async tests need not touch pathlib themselves)."""
    return path.read_bytes()


async def start_when_free(manager: StateManager, patience: float = 10.0) -> None:
    """Start a manager, waiting for a dead writer's lock to be reclaimable (a Redis lease runs
    out after its TTL; flock and advisory locks are free as soon as the holder is gone)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            await manager.start()
        except StoreLockedError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
        else:
            return


def manager_for(url: str, **kwargs: object) -> StateManager:
    """A manager of the store at `url`, writing as `writer-a` unless `writer_id` says otherwise."""
    return StateManager(
        open_store(url), writer_id=str(kwargs.pop("writer_id", "writer-a")), **kwargs
    )  # type: ignore[arg-type]


@asynccontextmanager
async def writing(url: str, state: SystemState, mesh: Mesh) -> AsyncIterator[StateManager]:
    """A manager of the store at `url` that loaded it and writes `state` from now on (the first
    life of a restart test); stopped at exit."""
    async with manager_for(url) as manager:
        await manager.load()
        manager.attach(state, mesh)
        yield manager


async def restored(url: str) -> SystemState:
    """What a fresh manager loads from the store at `url` (a restart); there must be a state."""
    async with manager_for(url) as manager:
        state = await manager.load()
    assert state is not None
    return state
