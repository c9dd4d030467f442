"""The index of overrides by end time: the tick ends exactly what a scan of the whole fleet
would, while looking only at what is due."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.state.test_properties import meshes

from modelmesh_healthd.state import (
    DEFAULT_POLICY,
    ConnectivityGuard,
    Event,
    HealthCore,
    Mesh,
    Observation,
    Outcome,
    initial_state,
    observe,
)
from modelmesh_healthd.state.overrides import (
    OverrideIndex,
    clear_override,
    expire_overrides,
    set_override,
)
from modelmesh_healthd.state.windows import Window, open_windows

DUE = {
    "nothing before its end": ([("a", 10.0)], 9.9, []),
    "an end at now is due": ([("a", 10.0)], 10.0, ["a"]),
    "only the due ones, earliest first": ([("b", 20.0), ("a", 5.0), ("c", 7.0)], 8.0, ["a", "c"]),
    "the same end noted twice is one entry": ([("a", 5.0), ("a", 5.0)], 6.0, ["a"]),
    "an extended end leaves the old entry to lapse": ([("a", 5.0), ("a", 9.0)], 6.0, ["a"]),
}


@pytest.mark.parametrize(("noted", "now", "due"), DUE.values(), ids=DUE.keys())
def test_the_index_gives_out_what_is_due_at_now(
    noted: list[tuple[str, float]], now: float, due: list[str]
) -> None:
    index = OverrideIndex()
    for target, until in noted:
        index.note(target, until)
    assert index.due(now) == due
    assert index.due(now) == []  # taken out once


def test_a_tick_takes_out_only_the_due_entries() -> None:
    mesh = Mesh.build([f"p{i}" for i in range(50)], {f"p{i}.m": f"p{i}" for i in range(50)})
    c = HealthCore(mesh, initial_state(mesh), DEFAULT_POLICY, ConnectivityGuard(enabled=False))
    for i, p in enumerate(mesh.providers):
        c.overrides.note_events(
            set_override(mesh, c.state, p, until=100.0 + i, reason="r", now=1.0)
        )
    events = c.tick(104.5)
    assert [e.fields()["target"] for e in events if e.name == "override.expired"] == [
        "p0",
        "p1",
        "p2",
        "p3",
        "p4",
    ]
    assert len(c.overrides) == 45


def test_an_extended_override_does_not_end_at_its_first_end() -> None:
    mesh = Mesh.build(["a"], {"a.m": "a"})
    c = HealthCore(mesh, initial_state(mesh), DEFAULT_POLICY, ConnectivityGuard(enabled=False))
    c.overrides.note_events(set_override(mesh, c.state, "a", until=10.0, reason="r", now=1.0))
    c.overrides.note_events(set_override(mesh, c.state, "a", until=20.0, reason="r", now=2.0))
    assert c.tick(15.0) == []
    assert [e.name for e in c.tick(20.0)][:1] == ["override.expired"]


def test_an_override_read_from_elsewhere_is_ended_once_reindexed() -> None:
    mesh = Mesh.build(["a", "b"], {"a.m": "a", "b.m": "b"})
    c = HealthCore(mesh, initial_state(mesh), DEFAULT_POLICY, ConnectivityGuard(enabled=False))
    other = initial_state(mesh)  # another replica's copy, as the store has it
    set_override(mesh, other, "b.m", until=10.0, reason="r", now=1.0)
    c.state.providers["b"] = other.providers["b"]
    c.state.models["b.m"] = other.models["b.m"]
    c.reindex(["b"])
    assert [e.name for e in c.tick(10.0)][:1] == ["override.expired"]


# --- the tick equals a scan of the whole fleet -----------------------------------------------

Op = tuple[str, str, float]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Mesh, list[Op]]:
    mesh = draw(meshes())
    targets = list(mesh.providers) + list(mesh.model_provider)
    ops = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["drain", "undrain", "ok", "fail", "tick", "replace"]),
                st.sampled_from(targets),
                st.floats(0.5, 30.0),
            ),
            max_size=40,
        )
    )
    return mesh, ops


def _scan_tick(c: HealthCore, now: float) -> list[Event]:
    """The tick as it was: every provider and model looked at."""
    events = expire_overrides(c.mesh, c.state, now, policy=c.policy)
    return events + open_windows(c.mesh, c.state, c.windows, now, policy=c.policy)


def _apply(c: HealthCore, op: Op, now: float, *, indexed: bool) -> list[Event]:
    what, target, length = op
    mesh = c.mesh
    provider = target if target in mesh.provider_models else mesh.model_provider[target]
    if what == "drain":
        events = set_override(mesh, c.state, target, until=now + length, reason="r", now=now)
        c.overrides.note_events(events)
        return events
    if what == "undrain":
        return clear_override(mesh, c.state, target, now)
    if what == "tick":
        return c.tick(now) if indexed else _scan_tick(c, now)
    if what == "replace":
        # A store read: the provider and its models replaced by copies, one of them drained.
        c.state.providers[provider] = copy.deepcopy(c.state.providers[provider])
        for model in mesh.provider_models[provider]:
            c.state.models[model] = copy.deepcopy(c.state.models[model])
        held = c.state.providers[target] if target == provider else c.state.models[target]
        held.override_until, held.override_reason = now + length, "from the store"
        c.reindex([provider])
        return []
    outcome = Outcome.SERVER_ERROR if what == "fail" else Outcome.OK
    return observe(c, provider, Observation(outcome), now).events


WINDOW_TIMES = {"w": lambda now: now + 5.0 if 40.0 <= now % 100.0 < 45.0 else None}


@settings(max_examples=300, deadline=None)
@given(scenarios(), st.booleans())
def test_the_indexed_tick_ends_exactly_what_a_fleet_scan_ends(
    scenario: tuple[Mesh, list[Op]], with_window: bool
) -> None:
    mesh, ops = scenario
    windows = (Window("w", (mesh.providers[0],), WINDOW_TIMES["w"]),) if with_window else ()
    indexed, scanned = (
        HealthCore(mesh, initial_state(mesh), DEFAULT_POLICY, ConnectivityGuard(enabled=False))
        for _ in range(2)
    )
    indexed.windows = scanned.windows = windows
    now = 0.0
    for op in ops:
        now += op[2]
        assert _apply(indexed, op, now, indexed=True) == _apply(scanned, op, now, indexed=False)
        assert indexed.state.to_dict() == scanned.state.to_dict()
    final = now + 1000.0
    assert indexed.tick(final) == _scan_tick(scanned, final)
    assert indexed.state.to_dict() == scanned.state.to_dict()
