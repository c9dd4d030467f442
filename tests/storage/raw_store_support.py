"""Raw access to what each backend holds, reaching under the store API as a fault would."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Protocol

from modelmesh_healthd.storage.memory_store import MemoryStore
from modelmesh_healthd.storage.row_encode import row_checksum


class RawStore(Protocol):
    """Reaches under a store's API, the way a disk fault or an operator would."""

    def get_row(self, kind: str, key: str) -> tuple[str, str] | None: ...

    def set_row(self, kind: str, key: str, data: str, checksum: str) -> None: ...

    def get_meta(self) -> tuple[str, str] | None: ...

    def set_meta(self, data: str, checksum: str) -> None: ...

    def quarantined(self) -> list[tuple[str, str]]: ...

    def dump(self) -> str: ...


class MemoryRaw:
    def __init__(self, url: str) -> None:
        self.store = MemoryStore(url)

    def get_row(self, kind: str, key: str) -> tuple[str, str] | None:
        return self.store.raw_rows().get((kind, key))

    def set_row(self, kind: str, key: str, data: str, checksum: str) -> None:
        self.store.raw_rows()[(kind, key)] = (data, checksum)

    def get_meta(self) -> tuple[str, str] | None:
        return self.store.raw_meta()

    def set_meta(self, data: str, checksum: str) -> None:
        self.store.replace_meta(data, checksum)

    def quarantined(self) -> list[tuple[str, str]]:
        return [(kind, key) for kind, key, *_ in self.store.quarantined()]

    def dump(self) -> str:
        return json.dumps([list(self.store.raw_rows().items()), self.store.raw_meta()])


class SQLiteRaw:
    def __init__(self, url: str) -> None:
        self.path = url.removeprefix("sqlite:///")

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

    def get_meta(self) -> tuple[str, str] | None:
        conn = self._conn()
        try:
            row = conn.execute("SELECT data, checksum FROM meta").fetchone()
        finally:
            conn.close()
        return None if row is None else (row[0], row[1])

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


class RedisRaw:
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

    def get_meta(self) -> tuple[str, str] | None:
        meta = self.client.hgetall(f"{self.prefix}meta")
        return (meta["data"], meta["checksum"]) if meta else None

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


class PostgresRaw:
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
            "SELECT data, checksum FROM {s}.rows WHERE kind = %s AND key = %s", (kind, key)
        )
        return None if not rows else (str(rows[0][0]), str(rows[0][1]))

    def set_row(self, kind: str, key: str, data: str, checksum: str) -> None:
        self._run(
            "UPDATE {s}.rows SET data = %s, checksum = %s WHERE kind = %s AND key = %s",
            (data, checksum, kind, key),
        )

    def get_meta(self) -> tuple[str, str] | None:
        rows = self._run("SELECT data, checksum FROM {s}.meta")
        return None if not rows else (str(rows[0][0]), str(rows[0][1]))

    def set_meta(self, data: str, checksum: str) -> None:
        self._run("UPDATE {s}.meta SET data = %s, checksum = %s", (data, checksum))

    def quarantined(self) -> list[tuple[str, str]]:
        return [(str(k), str(key)) for k, key in self._run("SELECT kind, key FROM {s}.quarantine")]

    def dump(self) -> str:
        tables = ("rows", "meta", "quarantine", "lock_owner")
        return "\n".join(str(self._run(f"SELECT * FROM {{s}}.{t}")) for t in tables)


def valid_checksum(kind: str, key: str, data: str) -> str:
    """The checksum a row with this content would carry if written by the daemon."""
    return row_checksum(kind, key, data)
