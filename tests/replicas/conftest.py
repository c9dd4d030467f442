"""Fixtures of the replica tests: one store URL per backend that replicas can share."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["redis", "postgresql"])
def shared_url(request: pytest.FixtureRequest) -> str:
    """A fresh Redis prefix or PostgreSQL schema (each test runs on both)."""
    name = "redis_url" if request.param == "redis" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url
