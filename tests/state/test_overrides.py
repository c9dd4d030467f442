"""Overrides with a TTL: a drain holds a provider or a model, and its end restores what it held."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.state.test_properties import check_invariants, meshes

from modelmesh_healthd.state import (
    DEFAULT_POLICY,
    ConnectivityGuard,
    HealthCore,
    Mesh,
    Observation,
    Outcome,
    Snapshot,
    SystemState,
    initial_state,
    observe,
)
from modelmesh_healthd.state.overrides import (
    MAINTENANCE,
    OverrideError,
    clear_override,
    expire_overrides,
    list_overrides,
    set_override,
)

Oc = Outcome
FAIL = Observation(Oc.SERVER_ERROR)
OK = Observation(Oc.OK)


def core() -> HealthCore:
    mesh = Mesh.build(
        providers=["a", "b"],
        models={"a.m1": "a", "a.m2": "a", "b.m": "b"},
        pools={"chat": ["a.m1", "a.m2", "b.m"]},
    )
    return HealthCore(mesh, initial_state(mesh), DEFAULT_POLICY, ConnectivityGuard(enabled=False))


def take_down(c: HealthCore, provider: str, at: float) -> float:
    t = at
    while c.state.providers[provider].is_healthy():
        observe(c, provider, FAIL, t)
        t += 1
    return t


def bring_up(c: HealthCore, provider: str, at: float) -> float:
    t = at
    while not c.state.providers[provider].is_healthy():
        observe(c, provider, OK, t)
        t += 1
    return t


def statuses(c: HealthCore) -> dict[str, tuple[str, str | None]]:
    return {m: (ms.status, ms.deactivation_reason) for m, ms in c.state.models.items()}


def drain(c: HealthCore, target: str, now: float, until: float) -> list[str]:
    events = set_override(c.mesh, c.state, target, until=until, reason="upgrade", now=now)
    return [e.name for e in events]


@dataclass(frozen=True)
class Case:
    target: str
    down_first: bool
    expect_held: dict[str, tuple[str, str | None]]


CASES = {
    "a drained healthy provider's models go to standby for maintenance": Case(
        "a",
        False,
        {
            "a.m1": ("standby", MAINTENANCE),
            "a.m2": ("standby", MAINTENANCE),
            "b.m": ("active", None),
        },
    ),
    "a drained down provider's models keep the provider's reason": Case(
        "a",
        True,
        {
            "a.m1": ("standby", "provider_unavailable"),
            "a.m2": ("standby", "provider_unavailable"),
            "b.m": ("active", None),
        },
    ),
    "a drained model alone goes to standby for maintenance": Case(
        "a.m1",
        False,
        {"a.m1": ("standby", MAINTENANCE), "a.m2": ("active", None), "b.m": ("active", None)},
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_drain_holds_exactly_the_expected_models(case: Case) -> None:
    c = core()
    t = take_down(c, "a", 0.0) if case.down_first else 0.0
    drain(c, case.target, t, t + 100)
    assert statuses(c) == case.expect_held
    check_invariants(c.mesh, c.state)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_undrain_restores_exactly_the_state_before_the_drain(case: Case) -> None:
    c = core()
    t = take_down(c, "a", 0.0) if case.down_first else 0.0
    before = statuses(c)
    drain(c, case.target, t, t + 100)
    clear_override(c.mesh, c.state, case.target, t + 1)
    assert statuses(c) == before
    assert list_overrides(c.state, t + 1) == []
    check_invariants(c.mesh, c.state)


def test_failing_probes_cannot_take_a_drained_provider_down() -> None:
    c = core()
    drain(c, "a", 0.0, 1000.0)
    for i in range(10):
        step = observe(c, "a", FAIL, 1.0 + i)
        assert step.overridden
        assert [e.name for e in step.events] == ["probe.held"]
    assert c.state.providers["a"].is_healthy()
    assert c.state.providers["a"].consecutive_failures == 0


def test_answering_probes_cannot_bring_a_drained_down_provider_up() -> None:
    c = core()
    t = take_down(c, "a", 0.0)
    drain(c, "a", t, t + 1000)
    for i in range(10):
        observe(c, "a", OK, t + 1 + i)
    assert not c.state.providers["a"].is_healthy()


def test_a_provider_going_down_does_not_move_a_drained_model() -> None:
    c = core()
    drain(c, "a.m1", 0.0, 1000.0)
    take_down(c, "a", 1.0)
    assert statuses(c)["a.m1"] == ("standby", MAINTENANCE)


def test_a_provider_coming_up_does_not_bring_back_a_drained_model() -> None:
    c = core()
    t = take_down(c, "a", 0.0)
    drain(c, "a.m1", t, t + 1000)
    bring_up(c, "a", t + 1)
    assert statuses(c)["a.m1"] == ("standby", "provider_unavailable")
    assert statuses(c)["a.m2"] == ("active", None)


def test_a_model_undrained_while_its_provider_is_down_waits_with_the_providers_reason() -> None:
    c = core()
    drain(c, "a.m1", 0.0, 1000.0)
    t = take_down(c, "a", 1.0)
    clear_override(c.mesh, c.state, "a.m1", t)
    assert statuses(c)["a.m1"] == ("standby", "provider_unavailable")
    t = bring_up(c, "a", t + 1)
    assert statuses(c)["a.m1"] == ("active", None)


def test_an_override_expires_at_its_end_time_on_the_next_probe() -> None:
    c = core()
    drain(c, "a", 0.0, 10.0)
    assert observe(c, "a", OK, 9.9).overridden
    step = observe(c, "a", OK, 10.0)
    names = [e.name for e in step.events]
    assert names[0] == "override.expired"
    assert "model.reactivated" in names
    assert not step.overridden
    assert statuses(c)["a.m1"] == ("active", None)


def test_probes_after_expiry_decide_health_again() -> None:
    c = core()
    drain(c, "a", 0.0, 10.0)
    take_down(c, "a", 10.0)
    assert statuses(c)["a.m1"] == ("standby", "provider_unavailable")


def test_expiry_of_the_whole_mesh_ends_every_due_override_and_no_other() -> None:
    c = core()
    drain(c, "a", 0.0, 10.0)
    drain(c, "b.m", 0.0, 50.0)
    names = [e.name for e in expire_overrides(c.mesh, c.state, 20.0)]
    assert names.count("override.expired") == 1
    assert [o.target for o in list_overrides(c.state, 20.0)] == ["b.m"]


def test_a_drain_sets_and_an_undrain_clears_with_their_events() -> None:
    c = core()
    assert drain(c, "b.m", 0.0, 5.0)[0] == "override.set"
    events = clear_override(c.mesh, c.state, "b.m", 1.0)
    assert events[0].name == "override.cleared"
    assert clear_override(c.mesh, c.state, "b.m", 2.0) == []


def test_draining_again_replaces_the_end_time_and_reason() -> None:
    c = core()
    drain(c, "a", 0.0, 5.0)
    set_override(c.mesh, c.state, "a", until=50.0, reason="longer", now=1.0)
    (only,) = list_overrides(c.state, 10.0)
    assert (only.until, only.reason) == (50.0, "longer")


BAD = {
    "an unknown target": ("nope", 10.0, "no provider or model 'nope'"),
    "an end time not after now": ("a", 0.0, "must end after now"),
}


@pytest.mark.parametrize(("target", "until", "message"), BAD.values(), ids=BAD.keys())
def test_a_bad_override_is_refused_with_a_clear_message(
    target: str, until: float, message: str
) -> None:
    c = core()
    before = statuses(c)
    with pytest.raises(OverrideError, match=message):
        set_override(c.mesh, c.state, target, until=until, reason="r", now=0.0)
    assert statuses(c) == before


def test_an_override_survives_a_snapshot_round_trip() -> None:
    c = core()
    drain(c, "a", 0.0, 99.0)
    drain(c, "b.m", 0.0, 77.0)
    data = Snapshot(c.state, 1.0, "w", 1).to_dict()
    back = Snapshot.from_dict(data).state
    assert [o.to_dict() for o in list_overrides(back, 1.0)] == [
        o.to_dict() for o in list_overrides(c.state, 1.0)
    ]


def test_a_state_written_before_overrides_loads_with_none() -> None:
    data = initial_state(core().mesh).to_dict()
    for entry in (*data["providers"].values(), *data["models"].values()):
        for key in [k for k in entry if k.startswith("override_")]:
            del entry[key]
    assert list_overrides(SystemState.from_dict(data), 0.0) == []


# --- properties ----------------------------------------------------------------------------

Op = tuple[str, str, float]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Mesh, list[Op]]:
    mesh = draw(meshes())
    targets = list(mesh.providers) + list(mesh.model_provider)
    ops = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["drain", "undrain", "ok", "fail", "missing"]),
                st.sampled_from(targets),
                st.floats(0.5, 30.0),
            ),
            max_size=40,
        )
    )
    return mesh, ops


def _run(c: HealthCore, op: Op, now: float) -> None:
    what, target, length = op
    mesh = c.mesh
    provider = target if target in mesh.provider_models else mesh.model_provider[target]
    if what == "drain":
        set_override(mesh, c.state, target, until=now + length, reason="r", now=now)
    elif what == "undrain":
        clear_override(mesh, c.state, target, now)
    else:
        checks = {}
        if what == "missing" and target in mesh.model_provider:
            checks[target] = Oc.MODEL_NOT_FOUND
        outcome = Oc.SERVER_ERROR if what == "fail" else Oc.OK
        observe(c, provider, Observation(outcome, model_outcomes=checks), now)


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_invariants_hold_with_overrides_in_every_reachable_state(
    scenario: tuple[Mesh, list[Op]],
) -> None:
    mesh, ops = scenario
    c = HealthCore(mesh, initial_state(mesh), DEFAULT_POLICY, ConnectivityGuard(enabled=False))
    for i, op in enumerate(ops):
        _run(c, op, float(i))
        check_invariants(mesh, c.state)
    expire_overrides(mesh, c.state, math.inf)
    check_invariants(mesh, c.state)
    # Once every override has ended nothing stays on standby for maintenance.
    assert all(ms.deactivation_reason != MAINTENANCE for ms in c.state.models.values())


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.data())
def test_no_probe_changes_a_drained_provider(
    scenario: tuple[Mesh, list[Op]], data: st.DataObject
) -> None:
    mesh, ops = scenario
    c = HealthCore(mesh, initial_state(mesh), DEFAULT_POLICY, ConnectivityGuard(enabled=False))
    provider = data.draw(st.sampled_from(mesh.providers))
    set_override(mesh, c.state, provider, until=1e9, reason="r", now=0.0)
    held = {
        m: (c.state.models[m].status, c.state.models[m].deactivation_reason)
        for m in mesh.provider_models[provider]
    }
    ps_before = c.state.providers[provider].to_dict()
    for i, op in enumerate(ops):
        if op[0] in ("drain", "undrain"):
            continue
        _run(c, op, 1.0 + i)
    assert c.state.providers[provider].to_dict() == ps_before
    after = {
        m: (c.state.models[m].status, c.state.models[m].deactivation_reason)
        for m in mesh.provider_models[provider]
    }
    assert after == held


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.data())
def test_drain_then_undrain_with_no_probe_between_restores_every_model(
    scenario: tuple[Mesh, list[Op]], data: st.DataObject
) -> None:
    mesh, ops = scenario
    c = HealthCore(mesh, initial_state(mesh), DEFAULT_POLICY, ConnectivityGuard(enabled=False))
    for i, op in enumerate(ops):
        if op[0] not in ("drain", "undrain"):
            _run(c, op, float(i))
    target = data.draw(st.sampled_from(list(mesh.providers) + list(mesh.model_provider)))
    before = statuses(c)
    set_override(mesh, c.state, target, until=1e9, reason="r", now=100.0)
    clear_override(mesh, c.state, target, 101.0)
    assert statuses(c) == before
