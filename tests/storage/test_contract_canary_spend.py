"""The storage contract for the canary's daily spend: every backend keeps it across a restart,
with nothing but a touch (no transition event), and keeps only the current day."""

from __future__ import annotations

from storage_support import small_mesh
from test_contract import manager_for

from modelmesh_healthd.state import initial_state
from modelmesh_healthd.state.spend import Budget, DaySpend, reserve, settle, spend_today

DAY = 86_400
NOW = 20_000 * DAY + 600.0
BUDGET = Budget(0.01, 10_000)


async def test_a_reservation_touched_and_synced_is_there_after_a_restart(store_url: str) -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    provider = mesh.providers[1]
    async with manager_for(store_url) as manager:
        await manager.load()
        manager.attach(state, mesh)
        assert await manager.sync()
        held = reserve(state.providers[provider], BUDGET, 0.004, 300, NOW)
        assert held is not None
        manager.touch(provider)  # the canary is sent only after this sync says True
        assert await manager.sync()

    async with manager_for(store_url) as manager:
        restored = await manager.load()
    assert restored is not None
    assert spend_today(restored.providers[provider], NOW) == DaySpend(20_000, 0.004, 300)
    assert spend_today(restored.providers[mesh.providers[0]], NOW) == DaySpend(20_000)


async def test_an_exhausted_budget_stays_exhausted_after_a_restart(store_url: str) -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    provider = mesh.providers[0]
    ps = state.providers[provider]
    async with manager_for(store_url) as manager:
        await manager.load()
        manager.attach(state, mesh)
        held = reserve(ps, BUDGET, 0.009, 100, NOW)
        assert held is not None
        settle(ps, held, 0.008, 90)
        assert reserve(ps, BUDGET, 0.004, 100, NOW + 60) is None
        manager.touch(provider)
        assert await manager.sync()

    async with manager_for(store_url) as manager:
        restored = await manager.load()
    assert restored is not None
    back = restored.providers[provider]
    assert spend_today(back, NOW + 120) == DaySpend(20_000, 0.008, 90, True)
    assert reserve(back, BUDGET, 0.004, 100, NOW + 120) is None  # still refused


async def test_only_the_current_days_spend_is_kept(store_url: str) -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    provider = mesh.providers[2]
    ps = state.providers[provider]
    async with manager_for(store_url) as manager:
        await manager.load()
        manager.attach(state, mesh)
        assert reserve(ps, BUDGET, 0.009, 900, NOW) is not None
        manager.touch(provider)
        assert await manager.sync()
        tomorrow = NOW + DAY
        assert reserve(ps, BUDGET, 0.001, 50, tomorrow) is not None
        manager.touch(provider)
        assert await manager.sync()

    async with manager_for(store_url) as manager:
        restored = await manager.load()
    assert restored is not None
    back = restored.providers[provider]
    # One record per provider, for its latest day: yesterday's figures are gone from the store.
    assert (back.canary_day, back.canary_usd, back.canary_tokens) == (20_001, 0.001, 50)
