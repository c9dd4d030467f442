"""The storage contract for overrides: every backend keeps them, including on a standby model."""

from __future__ import annotations

from storage_support import restored, small_mesh, writing

from modelmesh_healthd.state import initial_state
from modelmesh_healthd.state.overrides import (
    clear_override,
    list_overrides,
    set_override,
)


async def test_overrides_load_back_equal_on_every_backend(store_url: str) -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    provider, model = mesh.providers[0], mesh.provider_models[mesh.providers[1]][0]
    async with writing(store_url, state, mesh) as manager:
        assert await manager.sync()
        manager.record(set_override(mesh, state, provider, until=9e9, reason="upgrade", now=1000.0))
        manager.record(set_override(mesh, state, model, until=8e9, reason="bad", now=1001.0))
        assert await manager.sync()

    after = await restored(store_url)
    assert list_overrides(after, 2000.0) == list_overrides(state, 2000.0)
    assert len(list_overrides(after, 2000.0)) == 2
    assert after.to_dict() == state.to_dict()


async def test_an_override_on_a_model_already_on_standby_is_persisted(store_url: str) -> None:
    # No model moves, so only the override event itself can mark the row to write.
    mesh = small_mesh()
    state = initial_state(mesh)
    model = mesh.provider_models[mesh.providers[0]][0]
    async with writing(store_url, state, mesh) as manager:
        manager.record(set_override(mesh, state, model, until=9e9, reason="a", now=1000.0))
        assert await manager.sync()
        manager.record(set_override(mesh, state, model, until=7e9, reason="b", now=1001.0))
        assert await manager.sync()

    after = await restored(store_url)
    (only,) = list_overrides(after, 2000.0)
    assert (only.until, only.reason) == (7e9, "b")


async def test_a_cleared_override_stays_cleared_after_a_reload(store_url: str) -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    provider = mesh.providers[0]
    async with writing(store_url, state, mesh) as manager:
        manager.record(set_override(mesh, state, provider, until=9e9, reason="a", now=1000.0))
        assert await manager.sync()
        manager.record(clear_override(mesh, state, provider, 1001.0))
        assert await manager.sync()

    after = await restored(store_url)
    assert list_overrides(after, 2000.0) == []
    assert all(ms.is_active for ms in after.models.values())
