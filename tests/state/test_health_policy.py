"""HealthPolicy: validated numbers and the outcome rules of PROVIDERS.md, one outcome at a time."""

from __future__ import annotations

import pytest

from modelmesh_healthd.state import (
    DEFAULT_POLICY,
    Effect,
    HealthPolicy,
    Outcome,
    PolicyError,
    ProviderState,
)


@pytest.mark.parametrize(
    ("outcome", "effect"),
    [
        (Outcome.OK, Effect.SUCCESS),
        (Outcome.DEGRADED, Effect.SUCCESS),
        (Outcome.RATE_LIMITED, Effect.NEUTRAL),
        (Outcome.QUOTA_EXHAUSTED, Effect.FATAL),
        (Outcome.AUTH_INVALID, Effect.FATAL),
        (Outcome.MODEL_NOT_FOUND, Effect.SUCCESS),
        (Outcome.LOADING, Effect.LOADING),
        (Outcome.OVERLOADED, Effect.FAILURE),
        (Outcome.SERVER_ERROR, Effect.FAILURE),
        (Outcome.TIMEOUT, Effect.FAILURE),
        (Outcome.CONNECT_ERROR, Effect.FAILURE),
        (Outcome.PROTOCOL_ERROR, Effect.FAILURE),
    ],
)
def test_default_effect_of_each_outcome_follows_the_providers_table(
    outcome: Outcome, effect: Effect
) -> None:
    assert DEFAULT_POLICY.effect_of(outcome) is effect


def test_every_outcome_has_an_effect() -> None:
    assert set(DEFAULT_POLICY.effects) == set(Outcome)


def test_an_override_changes_one_outcome_and_keeps_the_rest() -> None:
    policy = HealthPolicy(effects={Outcome.DEGRADED: Effect.FAILURE})
    assert policy.effect_of(Outcome.DEGRADED) is Effect.FAILURE
    assert policy.effect_of(Outcome.OK) is Effect.SUCCESS


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ema_alpha": 0.0}, "ema_alpha"),
        ({"ema_alpha": 1.5}, "ema_alpha"),
        ({"min_availability": 0.0}, "min_availability"),
        ({"min_availability": 0.6, "recovery_threshold": 0.5}, "recovery_threshold"),
        ({"recovery_threshold": 1.0}, "recovery_threshold"),
        ({"recovery_successes": 0}, "recovery_successes"),
        ({"loading_grace": -1.0}, "loading_grace"),
    ],
)
def test_contradictory_numbers_are_rejected_naming_the_field(
    kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        HealthPolicy(**kwargs)  # type: ignore[arg-type]  # the table mixes int and float fields


@pytest.mark.parametrize(
    ("alpha", "minimum"),
    [(0.25, 0.5), (0.1, 0.5), (0.5, 0.3), (1.0, 0.5), (0.3, 0.9)],
)
def test_failures_to_down_matches_what_record_probe_does(alpha: float, minimum: float) -> None:
    policy = HealthPolicy(ema_alpha=alpha, min_availability=minimum, recovery_threshold=minimum)
    s = ProviderState()
    probes = 0
    while s.is_healthy(policy):
        s.record_probe(False, now=float(probes), policy=policy)
        probes += 1
    assert probes == policy.failures_to_down(1.0)


@pytest.mark.parametrize("start", [0.0, 0.2, 0.42, 0.6])
def test_successes_to_up_matches_what_record_probe_does(start: float) -> None:
    s = ProviderState(available=False, availability_score=start, down_reason="provider_unavailable")
    probes = 0
    while not s.is_healthy():
        s.record_probe(True, now=float(probes))
        probes += 1
    assert probes == DEFAULT_POLICY.successes_to_up(start)


def test_loading_is_neutral_within_the_grace_period_and_a_failure_after_it() -> None:
    policy = HealthPolicy(loading_grace=60.0)
    s = ProviderState()
    s.record_probe(False, now=0.0, outcome=Outcome.LOADING, policy=policy)
    s.record_probe(False, now=59.0, outcome=Outcome.LOADING, policy=policy)
    assert s.availability_score == 1.0
    assert s.loading_since == 0.0
    s.record_probe(False, now=60.0, outcome=Outcome.LOADING, policy=policy)
    assert s.availability_score == pytest.approx(0.75)


def test_a_success_ends_a_loading_streak() -> None:
    s = ProviderState()
    s.record_probe(False, now=0.0, outcome=Outcome.LOADING)
    s.record_probe(True, now=1.0, outcome=Outcome.OK)
    assert s.loading_since is None
