"""A replica's lease table trusts a lease no longer than the store does; the store URL's
replica options are read, and bad ones named."""

from __future__ import annotations

import pytest

from modelmesh_healthd.daemon.replica_options import replica_options
from modelmesh_healthd.storage.errors import StoreURLError
from modelmesh_healthd.storage.fenced import Leases


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_lease_is_owned_until_its_local_deadline_and_not_after() -> None:
    clock = Clock()
    leases = Leases(clock)
    leases.grant("provider:a", 7, deadline=105.0)
    clock.now = 104.9
    assert (leases.owns("provider:a"), leases.token("provider:a")) == (True, 7)
    clock.now = 105.0
    assert (leases.owns("provider:a"), leases.token("provider:a")) == (False, None)
    assert leases.expired() == {"provider:a"}
    assert leases.tokens() == {"provider:a": 7}  # still known, so it can be released


def test_dropped_leases_are_forgotten() -> None:
    leases = Leases(Clock())
    leases.grant("provider:a", 1, deadline=200.0)
    leases.grant("pool:p", 2, deadline=200.0)
    leases.drop({"provider:a"})
    assert leases.shards() == {"pool:p"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://h:6379/0", ("redis://h:6379/0", None)),
        ("sqlite:///var/lib/x/state.db", ("sqlite:///var/lib/x/state.db", None)),
        ("redis://h:6379/0?replicas=on", ("redis://h:6379/0", 10.0)),
        ("redis://h/0?prefix=p:&replicas=on&lease_ttl=4", ("redis://h/0?prefix=p%3A", 4.0)),
        ("postgresql://u@h/db?replicas=off&schema=s", ("postgresql://u@h/db?schema=s", None)),
    ],
)
def test_replica_options_are_taken_out_of_the_store_url(
    url: str, expected: tuple[str, float | None]
) -> None:
    assert replica_options(url) == expected


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("redis://h/0?replicas=maybe", "replicas must be on or off"),
        ("redis://h/0?replicas=on&lease_ttl=0.1", "lease_ttl must be seconds"),
        ("redis://h/0?replicas=on&lease_ttl=soon", "lease_ttl must be seconds"),
    ],
)
def test_bad_replica_options_are_named(url: str, named: str) -> None:
    with pytest.raises(StoreURLError, match=named):
        replica_options(url)
