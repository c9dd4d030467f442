"""Fixtures of the storage tests: one store URL per backend, and raw access to what it holds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from raw_store_support import MemoryRaw, PostgresRaw, RawStore, RedisRaw, SQLiteRaw
from storage_support import BACKENDS

from modelmesh_healthd.storage.memory_store import MemoryStore


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn."""
    name: str = request.param
    return name


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, isolated store of the backend under test."""
    if backend == "memory":
        name = f"test-{uuid.uuid4().hex}"
        yield f"memory://{name}"
        MemoryStore.drop(name)
    elif backend == "file":
        yield f"file://{tmp_path}/state/state.json"
    elif backend == "sqlite":
        yield f"sqlite:///{tmp_path}/state/state.db"
    elif backend == "redis":
        yield request.getfixturevalue("redis_url")
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture
def raw(backend: str, store_url: str) -> Iterator[RawStore]:
    """Raw access to the store under test (row backends only; `file` is plain bytes)."""
    if backend == "file":
        pytest.skip("the file backend is a document: its tests read the bytes directly")
    if backend == "memory":
        yield MemoryRaw(store_url)
    elif backend == "sqlite":
        yield SQLiteRaw(store_url)
    elif backend == "redis":
        access = RedisRaw(store_url)
        yield access
        access.close()
    else:
        yield PostgresRaw(store_url)
