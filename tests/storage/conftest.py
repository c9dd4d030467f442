"""Fixtures of the storage tests: one store URL per backend, and raw access to what it holds."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
from storage_support import BACKENDS

from modelmesh_healthd.storage.memory_store import MemoryStore
from modelmesh_healthd.storage.rows import row_checksum


class RawStore(Protocol):
    """Reaches under a store's API, the way a disk fault or an operator would."""

    def get_row(self, kind: str, key: str) -> tuple[str, str] | None: ...

    def set_row(self, kind: str, key: str, data: str, checksum: str) -> None: ...

    def set_meta(self, data: str, checksum: str) -> None: ...

    def quarantined(self) -> list[tuple[str, str]]: ...

    def dump(self) -> str: ...


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
        yield f"sqlite://{tmp_path}/state/state.db"
    elif backend == "redis":
        yield request.getfixturevalue("redis_url")
    else:
        yield request.getfixturevalue("postgres_url")


class _MemoryRaw:
    def __init__(self, url: str) -> None:
        self.store = MemoryStore(url)

    def get_row(self, kind: str, key: str) -> tuple[str, str] | None:
        return self.store.raw_rows().get((kind, key))

    def set_row(self, kind: str, key: str, data: str, checksum: str) -> None:
        self.store.raw_rows()[(kind, key)] = (data, checksum)

    def set_meta(self, data: str, checksum: str) -> None:
        self.store.replace_meta(data, checksum)

    def quarantined(self) -> list[tuple[str, str]]:
        return [(kind, key) for kind, key, *_ in self.store.quarantined()]

    def dump(self) -> str:
        return json.dumps([list(self.store.raw_rows().items()), self.store.raw_meta()])


class _SQLiteRaw:
    def __init__(self, url: str) -> None:
        self.path = url.removeprefix("sqlite://")

    def _conn(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, isolation_level=None)

    def get_row(self, kind: str, key: str) -> tuple[str, str] | None:
        conn = self._conn()
        try:
            row = conn.execute(
                "SELECT data, checksum FROM rows WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        finally:
            conn.close()
        return None if row is None else (row[0], row[1])

    def set_row(self, kind: str, key: str, data: str, checksum: str) -> None:
        conn = self._conn()
        try:
            conn.execute(
                "UPDATE rows SET data = ?, checksum = ? WHERE kind = ? AND key = ?",
                (data, checksum, kind, key),
            )
        finally:
            conn.close()

    def set_meta(self, data: str, checksum: str) -> None:
        conn = self._conn()
        try:
            conn.execute("UPDATE meta SET data = ?, checksum = ?", (data, checksum))
        finally:
            conn.close()

    def quarantined(self) -> list[tuple[str, str]]:
        conn = self._conn()
        try:
            return [(k, key) for k, key in conn.execute("SELECT kind, key FROM quarantine")]
        finally:
            conn.close()

    def dump(self) -> str:
        parts = []
        for suffix in ("", "-wal"):
            path = Path(self.path + suffix)
            if path.exists():
                parts.append(path.read_bytes().decode("utf-8", "replace"))
        return "\n".join(parts)


class _RedisRaw:
    def __init__(self, url: str) -> None:
        import redis

        base, _, query = url.partition("?")
        self.prefix = query.removeprefix("prefix=")
        self.client = redis.Redis.from_url(base, decode_responses=True)

    def get_row(self, kind: str, key: str) -> tuple[str, str] | None:
        value = self.client.hget(f"{self.prefix}rows:{kind}", key)
        if value is None:
            return None
        checksum, _, data = str(value).partition("\n")
        return data, checksum

    def set_row(self, kind: str, key: str, data: str, checksum: str) -> None:
        self.client.hset(f"{self.prefix}rows:{kind}", key, f"{checksum}\n{data}")

    def set_meta(self, data: str, checksum: str) -> None:
        self.client.hset(f"{self.prefix}meta", mapping={"data": data, "checksum": checksum})

    def quarantined(self) -> list[tuple[str, str]]:
        out = []
        for value in self.client.hvals(f"{self.prefix}quarantine"):
            entry = json.loads(value)
            out.append((entry["kind"], entry.get("key", "meta")))
        return out

    def dump(self) -> str:
        parts = []
        for key in self.client.scan_iter(match=f"{self.prefix}*"):
            kind = self.client.type(key)
            value = self.client.hgetall(key) if kind == "hash" else self.client.get(key)
            parts.append(f"{key}={value}")
        return "\n".join(parts)

    def close(self) -> None:
        self.client.close()


class _PostgresRaw:
    def __init__(self, url: str) -> None:
        base, _, query = url.partition("?")
        self.base, self.schema = base, query.removeprefix("schema=")

    def _run(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as conn:
            cur = conn.execute(sql.replace("{s}", self.schema), params)
            return cur.fetchall() if cur.description else []

    def get_row(self, kind: str, key: str) -> tuple[str, str] | None:
        rows = self._run(
            "SELECT data::text, checksum FROM {s}.rows WHERE kind = %s AND key = %s", (kind, key)
        )
        return None if not rows else (str(rows[0][0]), str(rows[0][1]))

    def set_row(self, kind: str, key: str, data: str, checksum: str) -> None:
        self._run(
            "UPDATE {s}.rows SET data = %s::jsonb, checksum = %s WHERE kind = %s AND key = %s",
            (data, checksum, kind, key),
        )

    def set_meta(self, data: str, checksum: str) -> None:
        self._run("UPDATE {s}.meta SET data = %s, checksum = %s", (data, checksum))

    def quarantined(self) -> list[tuple[str, str]]:
        return [(str(k), str(key)) for k, key in self._run("SELECT kind, key FROM {s}.quarantine")]

    def dump(self) -> str:
        tables = ("rows", "meta", "quarantine", "lock_owner")
        return "\n".join(str(self._run(f"SELECT * FROM {{s}}.{t}")) for t in tables)


@pytest.fixture
def raw(backend: str, store_url: str) -> Iterator[RawStore]:
    """Raw access to the store under test (row backends only; `file` is plain bytes)."""
    if backend == "file":
        pytest.skip("the file backend is a document: its tests read the bytes directly")
    if backend == "memory":
        yield _MemoryRaw(store_url)
    elif backend == "sqlite":
        yield _SQLiteRaw(store_url)
    elif backend == "redis":
        access = _RedisRaw(store_url)
        yield access
        access.close()
    else:
        yield _PostgresRaw(store_url)


def valid_checksum(kind: str, key: str, data: str) -> str:
    """The checksum a row with this content would carry if written by the daemon."""
    return row_checksum(kind, key, data)
