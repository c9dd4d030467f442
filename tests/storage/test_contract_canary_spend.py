"""The storage contract for the canary's daily spend: every backend keeps it across a restart,
with nothing but a touch (no transition event), and keeps only the current day."""

from __future__ import annotations

from storage_support import restored, small_mesh, writing

from modelmesh_healthd.state import initial_state
from modelmesh_healthd.state.spend import Budget, DaySpend, reserve, settle, spend_today

DAY = 86_400
NOW = 20_000 * DAY + 600.0
BUDGET = Budget(0.01, 10_000)


async def test_a_reservation_touched_and_synced_is_there_after_a_restart(store_url: str) -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    provider = mesh.providers[1]
    async with writing(store_url, state, mesh) as manager:
        assert await manager.sync()
        held = reserve(state.providers[provider], BUDGET, 0.004, 300, NOW)
        assert held is not None
        manager.touch(provider)  # the canary is sent only after this sync says True
        assert await manager.sync()

    after = await restored(store_url)
    assert spend_today(after.providers[provider], NOW) == DaySpend(20_000, 0.004, 300)
    assert spend_today(after.providers[mesh.providers[0]], NOW) == DaySpend(20_000)


async def test_an_exhausted_budget_stays_exhausted_after_a_restart(store_url: str) -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    provider = mesh.providers[0]
    ps = state.providers[provider]
    async with writing(store_url, state, mesh) as manager:
        held = reserve(ps, BUDGET, 0.009, 100, NOW)
        assert held is not None
        settle(ps, held, 0.008, 90)
        assert reserve(ps, BUDGET, 0.004, 100, NOW + 60) is None
        manager.touch(provider)
        assert await manager.sync()

    after = await restored(store_url)
    back = after.providers[provider]
    assert spend_today(back, NOW + 120) == DaySpend(20_000, 0.008, 90, True)
    assert reserve(back, BUDGET, 0.004, 100, NOW + 120) is None  # still refused


async def test_only_the_current_days_spend_is_kept(store_url: str) -> None:
    mesh = small_mesh()
    state = initial_state(mesh)
    provider = mesh.providers[2]
    ps = state.providers[provider]
    async with writing(store_url, state, mesh) as manager:
        assert reserve(ps, BUDGET, 0.009, 900, NOW) is not None
        manager.touch(provider)
        assert await manager.sync()
        tomorrow = NOW + DAY
        assert reserve(ps, BUDGET, 0.001, 50, tomorrow) is not None
        manager.touch(provider)
        assert await manager.sync()

    after = await restored(store_url)
    back = after.providers[provider]
    # One record per provider, for its latest day: yesterday's figures are gone from the store.
    assert (back.canary_day, back.canary_usd, back.canary_tokens) == (20_001, 0.001, 50)
