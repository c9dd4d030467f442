"""ProviderState through the seed's API only: defaults, EMA, threshold, hysteresis, round trip."""

from __future__ import annotations

import json
import re

import pytest

from modelmesh_healthd.state import DEFAULT_POLICY, ProviderState


def test_defaults_equal_the_specification() -> None:
    s = ProviderState()
    assert (s.available, s.auth_valid, s.last_probe) == (True, True, None)
    assert (s.availability_score, s.active_model_count) == (1.0, 0)
    assert (s.total_quota_used, s.total_cost) == (0, 0.0)
    assert s.is_healthy()


def test_repeated_failures_make_the_provider_unhealthy_below_the_threshold() -> None:
    s = ProviderState()
    for _ in range(10):
        s.record_probe(False)
    assert not s.is_healthy()
    assert not s.available
    assert s.availability_score < DEFAULT_POLICY.min_availability


def test_one_failure_does_not_make_a_healthy_provider_unhealthy() -> None:
    s = ProviderState()
    s.record_probe(False)
    assert s.is_healthy()
    assert s.availability_score == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("failures", "healthy"),
    [(1, True), (2, True), (3, False), (4, False)],
)
def test_a_hard_outage_takes_the_provider_down_within_three_probes(
    failures: int, healthy: bool
) -> None:
    s = ProviderState()
    for _ in range(failures):
        s.record_probe(False)
    assert s.is_healthy() is healthy


def test_recovery_needs_more_than_one_lucky_success() -> None:
    s = ProviderState()
    for _ in range(20):
        s.record_probe(False)
    s.record_probe(True, 0.2)
    assert not s.is_healthy()
    successes = 1
    while not s.is_healthy():
        s.record_probe(True, 0.2)
        successes += 1
    assert successes == DEFAULT_POLICY.successes_to_up(0.0) == 5
    assert s.availability_score >= DEFAULT_POLICY.recovery_threshold


def test_record_probe_sets_last_probe_and_latency() -> None:
    s = ProviderState()
    s.record_probe(True, 0.25)
    assert s.last_probe is not None
    assert s.last_latency == 0.25
    s.record_probe(True, now=1234.5)
    assert s.last_probe == 1234.5


def test_round_trip_through_json_is_identity() -> None:
    s = ProviderState()
    for ok in (True, False, False, False, True):
        s.record_probe(ok, 0.1, now=100.0)
    assert ProviderState.from_dict(json.loads(json.dumps(s.to_dict()))) == s


def test_camel_case_keys_of_the_typescript_variant_load() -> None:
    s = ProviderState.from_dict(
        {
            "available": False,
            "authValid": False,
            "lastProbe": 1700000000.5,
            "availabilityScore": 0.25,
            "activeModelCount": 3,
            "totalQuotaUsed": 42,
            "totalCost": 1.5,
        }
    )
    assert s == ProviderState(
        available=False,
        auth_valid=False,
        last_probe=1700000000.5,
        availability_score=0.25,
        active_model_count=3,
        total_quota_used=42,
        total_cost=1.5,
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"available": "yes"}, "'available' must be a boolean"),
        ({"availabilityScore": 1.5}, "availability_score' must be in [0, 1]"),
        ({"activeModelCount": 2.5}, "'active_model_count' must be an integer"),
        ({"lastProbe": "yesterday"}, "'last_probe' must be a number"),
        ({"totalCost": float("nan")}, "'total_cost' must be finite"),
    ],
)
def test_from_dict_rejects_wrong_types_naming_the_field(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ProviderState.from_dict(data)
