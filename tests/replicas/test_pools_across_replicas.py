"""settle_pools: the pool's owner sees a pool emptied or restored by other replicas' providers
and announces it once; other replicas follow the store and announce nothing."""

from __future__ import annotations

import pytest

from modelmesh_healthd.daemon.coordination_pools import settle_pools
from modelmesh_healthd.state import (
    ACTIVE,
    STANDBY,
    Mesh,
    PoolEmpty,
    PoolRestored,
    SystemState,
    initial_state,
)

MESH = Mesh.build(["a", "b"], {"a/m": "a", "b/m": "b"}, {"chat": ["a/m", "b/m"], "solo": ["a/m"]})


def with_statuses(a: str, b: str) -> SystemState:
    state = initial_state(MESH)
    state.models["a/m"].status = a
    state.models["b/m"].status = b
    return state


@pytest.mark.parametrize(
    ("before", "after", "event"),
    [
        ((ACTIVE, ACTIVE), (STANDBY, STANDBY), PoolEmpty("chat", 2)),
        ((STANDBY, STANDBY), (ACTIVE, STANDBY), PoolRestored("chat", 1)),
        ((ACTIVE, ACTIVE), (STANDBY, ACTIVE), None),
        ((STANDBY, STANDBY), (STANDBY, STANDBY), None),
    ],
)
def test_the_owner_announces_exactly_the_pool_transitions(
    before: tuple[str, str], after: tuple[str, str], event: object
) -> None:
    state = with_statuses(*before)
    announced: dict[str, bool] = {}
    settle_pools(MESH, state, 1.0, owns=lambda p: p == "chat", stored=None, announced=announced)
    for model, status in zip(("a/m", "b/m"), after, strict=True):
        state.models[model].status = status
    events, _ = settle_pools(
        MESH, state, 2.0, owns=lambda p: p == "chat", stored=None, announced=announced
    )
    assert events == ([] if event is None else [event])


def test_a_newly_owned_pool_is_recorded_without_an_announcement() -> None:
    state = with_statuses(STANDBY, STANDBY)
    events, _ = settle_pools(MESH, state, 1.0, owns=lambda p: True, stored=None, announced={})
    assert events == []


def test_a_replica_that_does_not_own_the_pool_never_announces_it() -> None:
    state = with_statuses(ACTIVE, ACTIVE)
    announced: dict[str, bool] = {}
    settle_pools(MESH, state, 1.0, owns=lambda p: False, stored=None, announced=announced)
    state.models["a/m"].status = state.models["b/m"].status = STANDBY
    events, changed = settle_pools(
        MESH, state, 2.0, owns=lambda p: False, stored=None, announced=announced
    )
    assert (events, changed) == ([], [])
    assert state.pools["chat"].active_models == set()


def test_the_owner_counts_each_model_that_changed_sides_as_a_rotation() -> None:
    state = with_statuses(ACTIVE, ACTIVE)
    announced: dict[str, bool] = {}
    settle_pools(MESH, state, 1.0, owns=lambda p: True, stored=None, announced=announced)
    state.models["a/m"].status = state.models["b/m"].status = STANDBY
    _, changed = settle_pools(
        MESH, state, 2.0, owns=lambda p: True, stored=None, announced=announced
    )
    assert sorted(changed) == ["chat", "solo"]
    assert state.pools["chat"].rotation_count == 2
    assert state.pools["chat"].last_rotation == 2.0


def test_a_pool_not_owned_takes_its_rotation_counters_from_the_store() -> None:
    state = with_statuses(ACTIVE, ACTIVE)
    stored = with_statuses(ACTIVE, ACTIVE)
    stored.pools["chat"].rotation_count, stored.pools["chat"].last_rotation = 7, 5.0
    settle_pools(MESH, state, 9.0, owns=lambda p: False, stored=stored, announced={})
    assert (state.pools["chat"].rotation_count, state.pools["chat"].last_rotation) == (7, 5.0)
