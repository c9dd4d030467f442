"""Degraded, not down: the latency decision (table-driven and properties) and what it touches."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmesh_healthd.state import (
    DEFAULT_POLICY,
    HealthCore,
    HealthPolicy,
    Mesh,
    ModelState,
    Observation,
    Outcome,
    PolicyError,
    ProviderState,
    initial_state,
    judge_latency,
    latency_step,
    model_latency_step,
    observe,
)

Oc = Outcome


@dataclass(frozen=True)
class Case:
    name: str
    baseline: float | None
    samples: int
    latency: float
    over_budget: bool
    slow: bool


CASES = [
    Case("over degraded_after is slow whatever the baseline", None, 0, 0.1, True, True),
    Case("no baseline yet is never slow by baseline", None, 0, 50.0, False, False),
    Case("a baseline still warming up is not trusted", 0.1, 4, 5.0, False, False),
    Case("over k times a warm baseline is slow", 0.2, 5, 0.61, False, True),
    Case("at k times the baseline is not slow", 0.2, 5, 0.6, False, False),
    Case("under the floor is never slow by baseline", 0.01, 50, 0.2, False, False),
    Case("just over the floor and k times is slow", 0.05, 50, 0.26, False, True),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_probe_is_slow_over_its_budget_or_over_k_times_its_own_baseline(case: Case) -> None:
    verdict = judge_latency(
        case.baseline,
        case.samples,
        case.latency,
        over_budget=case.over_budget,
        policy=DEFAULT_POLICY,
    )
    assert verdict.slow is case.slow
    assert (verdict.why is not None) is case.slow


def feed(ps: ProviderState, latencies: list[float], start: float = 0.0) -> list[str]:
    names: list[str] = []
    for i, lat in enumerate(latencies):
        _, events = latency_step(ps, "p", Oc.OK, lat, now=start + i, policy=DEFAULT_POLICY)
        names.extend(e.name for e in events)
    return names


def test_two_slow_probes_in_a_row_make_a_provider_degraded_and_say_so_once() -> None:
    ps = ProviderState()
    assert feed(ps, [0.2] * 6) == []
    assert feed(ps, [1.0, 1.0, 1.0], start=10.0) == ["provider.degraded"]
    assert ps.degraded
    assert ps.degraded_since == 11.0


def test_one_slow_probe_alone_does_not_flap_the_flag() -> None:
    ps = ProviderState()
    feed(ps, [0.2] * 6)
    assert feed(ps, [1.0, 0.2, 1.0, 0.2]) == []
    assert not ps.degraded


def test_two_fast_probes_in_a_row_bring_it_back_with_how_long_it_was_degraded() -> None:
    ps = ProviderState()
    feed(ps, [0.2] * 6)
    feed(ps, [1.0, 1.0], start=10.0)
    ps_events: list[object] = []
    for t in (20.0, 30.0):
        _, events = latency_step(ps, "p", Oc.OK, 0.2, now=t, policy=DEFAULT_POLICY)
        ps_events.extend(events)
    assert [e.fields()["degraded_for_s"] for e in ps_events] == [19.0]  # type: ignore[attr-defined]
    assert not ps.degraded


def test_a_slow_answer_is_recorded_as_degraded_and_a_failure_changes_no_latency_memory() -> None:
    ps = ProviderState()
    feed(ps, [0.2] * 6)
    outcome, _ = latency_step(ps, "p", Oc.OK, 2.0, now=1.0, policy=DEFAULT_POLICY)
    assert outcome is Oc.DEGRADED
    before = (ps.latency_baseline, ps.latency_samples, ps.latency_streak)
    outcome, events = latency_step(ps, "p", Oc.TIMEOUT, None, now=2.0, policy=DEFAULT_POLICY)
    assert (outcome, events) == (Oc.TIMEOUT, [])
    assert (ps.latency_baseline, ps.latency_samples, ps.latency_streak) == before


def mesh() -> Mesh:
    return Mesh.build(providers=["p"], models={"p.m": "p"}, pools={"chat": ["p.m"]})


def test_a_degraded_provider_keeps_its_models_active_and_healthy() -> None:
    m = mesh()
    state = initial_state(m)
    core = HealthCore(m, state)
    names: list[str] = []
    for i, lat in enumerate([0.2] * 6 + [2.0] * 5):
        names += [e.name for e in observe(core, "p", Observation(Oc.OK, lat), float(i)).events]
    assert "provider.degraded" in names
    assert state.providers["p"].degraded
    assert state.providers["p"].is_healthy()
    assert state.models["p.m"].is_active
    assert not [n for n in names if n.startswith(("model.", "pool.", "provider.down"))]


def test_slowness_takes_a_provider_down_only_when_configured_to() -> None:
    m = mesh()
    strict = HealthPolicy(effects={Oc.DEGRADED: "failure"})  # type: ignore[dict-item]
    state = initial_state(m)
    core = HealthCore(m, state, policy=strict)
    for i, lat in enumerate([0.2] * 6 + [2.0] * 5):
        observe(core, "p", Observation(Oc.OK, lat), float(i))
    assert not state.providers["p"].is_healthy(strict)
    assert not state.models["p.m"].is_active


def test_the_latency_memory_round_trips_through_the_providers_dict() -> None:
    ps = ProviderState()
    feed(ps, [0.2] * 6 + [1.0, 1.0])
    assert ProviderState.from_dict(ps.to_dict()) == ps


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("degraded_factor", 1.0),
        ("degraded_floor", -1.0),
        ("latency_alpha", 0.0),
        ("latency_warmup", 0),
        ("degraded_streak", 0),
    ],
)
def test_a_latency_policy_that_cannot_work_is_refused_naming_the_field(
    field: str, value: float
) -> None:
    with pytest.raises(PolicyError) as err:
        HealthPolicy(**{field: value})  # type: ignore[arg-type]
    assert err.value.field == field


_LATENCY = st.floats(min_value=0.001, max_value=30.0, allow_nan=False)


@given(st.lists(_LATENCY, min_size=1, max_size=60))
def test_degraded_flips_only_after_a_streak_and_each_flip_is_one_event(
    latencies: list[float],
) -> None:
    ps = ProviderState()
    flag = False
    for i, lat in enumerate(latencies):
        _, events = latency_step(ps, "p", Oc.OK, lat, now=float(i), policy=DEFAULT_POLICY)
        assert len(events) <= 1
        if events:
            assert events[0].name == ("provider.recovered" if flag else "provider.degraded")
            flag = not flag
        assert ps.degraded is flag
        assert ps.latency_streak < DEFAULT_POLICY.degraded_streak
    assert ps.latency_baseline is not None
    assert min(latencies) <= ps.latency_baseline <= max(latencies)


@given(st.lists(_LATENCY, min_size=1, max_size=40))
def test_answers_never_slower_than_the_floor_never_make_a_provider_degraded(
    latencies: list[float],
) -> None:
    ps = ProviderState()
    for i, raw in enumerate(latencies):
        lat = min(raw, DEFAULT_POLICY.degraded_floor)
        outcome, _ = latency_step(ps, "p", Oc.OK, lat, now=float(i), policy=DEFAULT_POLICY)
        assert outcome is Oc.OK
    assert not ps.degraded


def test_the_canarys_time_to_first_token_has_a_baseline_of_its_own() -> None:
    ps = ProviderState()
    feed(ps, [0.1] * 6)
    probe_baseline = ps.latency_baseline
    for i in range(8):  # completions are slower than a list, and that is their normal
        outcome, events = latency_step(
            ps, "p", Oc.OK, 0.9, now=100.0 + i, policy=DEFAULT_POLICY, source="ttft"
        )
        assert (outcome, events) == (Oc.OK, [])
    assert ps.latency_baseline == probe_baseline
    assert ps.ttft_baseline == pytest.approx(0.9)


def test_a_time_to_first_token_over_k_times_its_baseline_makes_the_provider_degraded() -> None:
    ps = ProviderState()
    for i in range(6):
        latency_step(ps, "p", Oc.OK, 0.5, now=float(i), policy=DEFAULT_POLICY, source="ttft")
    names = []
    for i in range(2):
        _, events = latency_step(
            ps, "p", Oc.OK, 4.0, now=10.0 + i, policy=DEFAULT_POLICY, source="ttft"
        )
        names += [e.name for e in events]
    assert names == ["provider.degraded"]


def test_a_models_slow_first_token_makes_that_model_degraded_and_leaves_it_active() -> None:
    ms = ModelState()
    names: list[str] = []
    for i, lat in enumerate([0.5] * 6 + [3.0, 3.0]):
        names += [
            e.name
            for e in model_latency_step(
                ms, "p.m", "p", lat, over_budget=False, now=float(i), policy=DEFAULT_POLICY
            )
        ]
    assert names == ["model.degraded"]
    assert ms.degraded
    assert ms.is_active


def test_a_degraded_model_recovers_after_as_many_fast_first_tokens() -> None:
    ms = ModelState()
    for i in range(6):
        model_latency_step(
            ms, "p.m", "p", 0.5, over_budget=False, now=float(i), policy=DEFAULT_POLICY
        )
    for i in range(2):
        model_latency_step(
            ms, "p.m", "p", 0.1, over_budget=True, now=10.0 + i, policy=DEFAULT_POLICY
        )
    assert ms.degraded
    events = [
        e
        for i in range(2)
        for e in model_latency_step(
            ms, "p.m", "p", 0.5, over_budget=False, now=20.0 + i, policy=DEFAULT_POLICY
        )
    ]
    assert [e.name for e in events] == ["model.recovered"]
    assert events[0].fields()["degraded_for_s"] == 10.0
    assert ModelState.from_dict(ms.to_dict()) == ms
