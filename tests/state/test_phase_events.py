"""Loading and rate limits are logged as phases: one event when they start or end, not per probe."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmesh_healthd.state import (
    Mesh,
    Observation,
    Outcome,
    ProbeCompleted,
    apply_probe,
    initial_state,
)
from modelmesh_healthd.state.events import ProviderLoaded, ProviderThrottleEnded

Oc = Outcome
PHASE_EVENTS = ("provider.loading", "provider.loaded", "provider.throttle_ended")


def mesh() -> Mesh:
    return Mesh.build(
        providers=["local"], models={"local.qwen": "local"}, pools={"chat": ["local.qwen"]}
    )


def phase_events(outcomes: list[Outcome]) -> list[str]:
    m = mesh()
    state = initial_state(m)
    names = []
    for i, outcome in enumerate(outcomes):
        events = apply_probe(m, state, "local", Observation(outcome), 2.0 * i)
        names += [e.name for e in events if e.name in PHASE_EVENTS]
    return names


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([Oc.OK] * 3, []),
        ([Oc.LOADING] * 5, ["provider.loading"]),
        ([Oc.LOADING] * 5 + [Oc.OK] * 3, ["provider.loading", "provider.loaded"]),
        (
            [Oc.LOADING, Oc.OK, Oc.LOADING, Oc.OK],
            ["provider.loading", "provider.loaded", "provider.loading", "provider.loaded"],
        ),
        ([Oc.RATE_LIMITED] * 4, []),
        ([Oc.RATE_LIMITED] * 4 + [Oc.OK] * 2, ["provider.throttle_ended"]),
        ([Oc.RATE_LIMITED, Oc.SERVER_ERROR], ["provider.throttle_ended"]),
        ([Oc.OK, Oc.RATE_LIMITED, Oc.OK, Oc.RATE_LIMITED, Oc.OK], ["provider.throttle_ended"] * 2),
    ],
    ids=[
        "healthy probes start no phase",
        "loading is announced once however many probes see it",
        "the end of loading is announced once",
        "each loading run has its own start and end",
        "a rate limit that lasts announces nothing yet",
        "the end of a rate limit is announced once",
        "a rate limit ends with whatever answer replaces it",
        "each rate limit ends once",
    ],
)
def test_phases_are_announced_once_at_their_edges(
    outcomes: list[Outcome], expected: list[str]
) -> None:
    assert phase_events(outcomes) == expected


def test_provider_loaded_says_how_long_loading_took_and_what_came_after() -> None:
    m = mesh()
    state = initial_state(m)
    for at in (10.0, 11.0, 12.5):
        apply_probe(m, state, "local", Observation(Oc.LOADING), at)
    events = apply_probe(m, state, "local", Observation(Oc.OK), 14.0)
    assert [e for e in events if isinstance(e, ProviderLoaded)] == [
        ProviderLoaded("local", "ok", 4.0)
    ]


def test_throttle_ended_names_the_answer_that_ended_it() -> None:
    m = mesh()
    state = initial_state(m)
    apply_probe(m, state, "local", Observation(Oc.RATE_LIMITED, retry_after=6.0), 0.0)
    events = apply_probe(m, state, "local", Observation(Oc.DEGRADED), 6.0)
    assert [e for e in events if isinstance(e, ProviderThrottleEnded)] == [
        ProviderThrottleEnded("local", "degraded")
    ]


def test_repeated_loading_probes_within_the_grace_are_logged_at_debug() -> None:
    m = mesh()
    state = initial_state(m)
    levels = []
    for i in range(5):
        events = apply_probe(m, state, "local", Observation(Oc.LOADING), float(i))
        levels += [e.log_level for e in events if isinstance(e, ProbeCompleted)]
    assert levels == ["debug"] * 5


@given(st.lists(st.sampled_from([Oc.OK, Oc.LOADING, Oc.RATE_LIMITED, Oc.TIMEOUT]), max_size=30))
def test_loading_starts_and_ends_alternate(outcomes: list[Outcome]) -> None:
    edges = [e for e in phase_events(outcomes) if e != "provider.throttle_ended"]
    assert edges == ["provider.loading", "provider.loaded"] * (len(edges) // 2) + (
        ["provider.loading"] if len(edges) % 2 else []
    )
    assert len(edges) % 2 == (1 if outcomes and outcomes[-1] is Oc.LOADING else 0)
