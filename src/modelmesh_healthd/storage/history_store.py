"""Where availability history lives: beside the state, in the same store the URL names.

One document per subject (`provider:NAME`, `model:ID`): its compacted `History` as JSON, with
one writer (the daemon holding the state store's lock; among replicas, the one holding the
subject's provider lease: see `daemon.history`), which saves the subjects that changed; any
other process reads them. Replicas pointed at one Redis or PostgreSQL thus share one log, not
one per process, and the log survives restarts with the store.

| state store URL | history kept in |
|---|---|
| `memory://NAME` | the process (shared by stores of the same NAME) |
| `file:///d/state.json`, `sqlite:////d/state.db` | `state.json.history.json` (`state.db.`...) |
| `redis://...?prefix=P` | the hash `Phistory` |
| `postgresql://...?schema=S` | the table `S.history` |

A document that does not parse is skipped with its reason (`HistoryLoad.skipped`), never a
traceback; the writer's next save of that subject replaces it. The file backends' document is
small (a compacted log per subject) and rewritten whole, atomically, on each save.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import urlsplit

from modelmesh_healthd.state.history import History, HistoryError
from modelmesh_healthd.state.subjects import Subjects
from modelmesh_healthd.storage._paths import path_from_url
from modelmesh_healthd.storage.errors import StoreUnavailableError, StoreURLError
from modelmesh_healthd.storage.redis_sockets import owned_client
from modelmesh_healthd.storage.urls import redact_url, scrub, split_options, url_secrets

__all__ = ["HistoryLoad", "HistoryStore", "open_history_store", "read_histories"]


@dataclass(slots=True)
class HistoryLoad:
    """What a history store held.

    Attributes:
        histories: Subject -> its history.
        skipped: Subject -> why its document was not usable.
    """

    histories: dict[str, History] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


class HistoryStore(Protocol):
    """A place for the histories (see the module's table). Use `async with`."""

    url: str
    """The URL with any password redacted."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def load(self) -> HistoryLoad:
        """Every subject's history.

        Raises:
            StoreUnavailableError: The backend cannot be reached.
        """
        ...

    async def save(self, histories: Mapping[str, History]) -> None:
        """Write these subjects' histories (others are left alone), atomically.

        Raises:
            StoreUnavailableError: Nothing was written.
        """
        ...


def _decode(raw: Mapping[str, str], out: HistoryLoad) -> HistoryLoad:
    for subject, text in raw.items():
        try:
            out.histories[subject] = History.from_dict(json.loads(text))
        except (ValueError, HistoryError) as exc:
            out.skipped[subject] = str(exc)
    return out


def _encode(history: History) -> str:
    return json.dumps(history.to_dict(), sort_keys=True, separators=(",", ":"))


_MEMORY: dict[str, dict[str, str]] = {}


class _MemoryHistory:
    def __init__(self, url: str) -> None:
        self.url = redact_url(url)
        name = urlsplit(url).netloc
        self._docs = _MEMORY.setdefault(name, {}) if name else {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    async def load(self) -> HistoryLoad:
        return _decode(dict(self._docs), HistoryLoad())

    async def save(self, histories: Mapping[str, History]) -> None:
        self._docs.update({s: _encode(h) for s, h in histories.items()})


class _FileHistory:
    """One JSON document beside the state file, one subject's document per line.

    A save writes a new file from the old one and the changed subjects, merged in subject
    order: the other subjects' lines are copied as they are, so this keeps nothing between
    saves (an index of every subject, and the histories to encode again, cost memory per
    subject for the daemon's life: docs/benchmarks.md). Until this process has written the
    file once, the old file is read whole instead, as JSON: it may come from an older version
    (all on one line), be unreadable (then it is replaced, as the module says) or have been
    edited by hand.
    """

    def __init__(self, url: str) -> None:
        self.url = redact_url(url)
        bare, _ = split_options(url, {"synchronous": "", "busy_timeout": ""})
        state = path_from_url(bare, url)
        self.path = state.with_name(state.name + ".history.json")
        self._ours = False
        """The file is as this process last wrote it (one subject per line, in order)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreUnavailableError(f"history {self.path}: {exc}") from None
        if not isinstance(data, dict):
            raise StoreUnavailableError(f"history {self.path}: not a JSON object")
        return {str(k): json.dumps(v) for k, v in data.items()}

    async def load(self) -> HistoryLoad:
        # Documents that do not parse are written back as they were, until a save replaces them.
        return _decode(await asyncio.to_thread(self._read), HistoryLoad())

    def _whole(self) -> Iterator[tuple[str, str]]:
        """The old file's documents, read as one JSON object; none if it cannot be read."""
        try:
            docs = self._read()
        except StoreUnavailableError:
            docs = {}  # an unreadable file is replaced, as the module says
        return ((subject, docs[subject]) for subject in sorted(docs))

    def _lines(self) -> Iterator[tuple[str, str]]:
        """The old file's documents, line by line, as this process wrote them.

        Raises:
            _NotOursError: The file is not in that shape (replaced or edited meanwhile).
        """
        try:
            f = self.path.open(encoding="utf-8")
        except FileNotFoundError:
            return
        with f:
            if f.readline() != "{\n":
                raise _NotOursError
            last = None
            for line in f:
                if line == "}\n":
                    return
                try:
                    subject, end = _KEY.raw_decode(line)
                except ValueError:
                    raise _NotOursError from None
                if not isinstance(subject, str) or line[end : end + 1] != ":":
                    raise _NotOursError
                if last is not None and subject <= last:
                    raise _NotOursError
                last = subject
                yield subject, line[end + 1 :].rstrip("\n").removesuffix(",")
        raise _NotOursError  # no closing line: cut short

    def _write(self, changed: Mapping[str, History]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._write_from(self._lines() if self._ours else self._whole(), changed)
        except _NotOursError:
            self._write_from(self._whole(), changed)
        self._ours = True

    def _write_from(self, old: Iterator[tuple[str, str]], changed: Mapping[str, History]) -> None:
        fd, tmp = tempfile.mkstemp(prefix=self.path.name, dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                # Document by document (the file object buffers): the whole body is never a
                # string of its own.
                f.write("{")
                sep = "\n"
                for subject, text in _merged(old, changed):
                    f.write(f"{sep}{json.dumps(subject)}:{text}")
                    sep = ",\n"
                f.write("\n}\n")
                f.flush()
                os.fsync(f.fileno())
            Path(tmp).replace(self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def save(self, histories: Mapping[str, History]) -> None:
        try:
            await asyncio.to_thread(self._write, histories)
        except OSError as exc:
            raise StoreUnavailableError(f"history {self.path}: {exc}") from None


class _NotOursError(Exception):
    """The history file is not in the shape this process writes."""


_KEY = json.JSONDecoder()


def _merged(
    old: Iterator[tuple[str, str]], changed: Mapping[str, History]
) -> Iterator[tuple[str, str]]:
    """(subject, document text) of `old` with `changed` over it, in subject order; both are in
    subject order, and only `changed` is encoded."""
    new = changed.in_order() if isinstance(changed, Subjects) else iter(sorted(changed))
    mine, theirs = next(new, None), next(old, None)
    while mine is not None or theirs is not None:
        if theirs is None or (mine is not None and mine <= theirs[0]):
            assert mine is not None
            yield mine, _encode(changed[mine])
            if theirs is not None and theirs[0] == mine:
                theirs = next(old, None)
            mine = next(new, None)
        else:
            yield theirs
            theirs = next(old, None)


class _RedisHistory:
    def __init__(self, url: str) -> None:
        self.url = redact_url(url)
        self._bare, options = split_options(
            # replicas and lease_ttl are the daemon's (see daemon.coordination), as in the state
            # store: left in, the driver would take them for connection arguments.
            url,
            {
                "prefix": "modelmesh-healthd:",
                "lock_ttl": "15",
                "timeout": "5",
                "replicas": "",
                "lease_ttl": "",
            },
        )
        self._key = f"{options['prefix']}history"
        try:
            self._timeout = float(options["timeout"])
        except ValueError:
            raise StoreURLError(f"{self.url}: timeout must be seconds") from None
        self._secrets = url_secrets(url)
        self._client: Any = None

    async def __aenter__(self) -> Self:
        self._client = owned_client(
            self._bare, socket_timeout=self._timeout, socket_connect_timeout=self._timeout
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()  # every socket, even when cancelled meanwhile (redis_sockets)

    def _error(self, exc: BaseException) -> StoreUnavailableError:
        reason = scrub(str(exc), self._secrets)
        return StoreUnavailableError(f"redis {self.url}: {type(exc).__name__}: {reason}")

    async def load(self) -> HistoryLoad:
        from redis.exceptions import RedisError

        try:
            raw = await self._client.hgetall(self._key)
        except (RedisError, OSError) as exc:
            raise self._error(exc) from None
        return _decode({k.decode(): v.decode() for k, v in raw.items()}, HistoryLoad())

    async def save(self, histories: Mapping[str, History]) -> None:
        from redis.exceptions import RedisError

        if not histories:
            return
        try:
            await self._client.hset(
                self._key, mapping={s: _encode(h) for s, h in histories.items()}
            )
        except (RedisError, OSError) as exc:
            raise self._error(exc) from None


class _PostgresHistory:
    def __init__(self, url: str) -> None:
        self.url = redact_url(url)
        bare, options = split_options(
            url,
            {
                "schema": "modelmesh_healthd",
                "pool_max": "4",
                "timeout": "5",
                "replicas": "",
                "lease_ttl": "",
            },
        )
        self._schema = options["schema"]
        self._conninfo = "postgresql" + bare[bare.index(":") :]
        try:
            self._timeout = max(1, int(float(options["timeout"])))
        except ValueError:
            raise StoreURLError(f"{self.url}: timeout must be seconds") from None
        self._secrets = url_secrets(url)

    def _q(self, statement: str) -> Any:
        from psycopg import sql

        return sql.SQL(statement).format(s=sql.Identifier(self._schema))

    def _error(self, exc: BaseException) -> StoreUnavailableError:
        reason = scrub(str(exc).strip(), self._secrets)
        return StoreUnavailableError(f"postgresql {self.url}: {type(exc).__name__}: {reason}")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    async def _connect(self) -> Any:
        from psycopg import AsyncConnection

        return await AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=self._timeout
        )

    async def load(self) -> HistoryLoad:
        from psycopg import Error

        try:
            async with await self._connect() as conn:
                found = await conn.execute(
                    "SELECT to_regclass(format('%%I.history', %s::text))", (self._schema,)
                )
                row = await found.fetchone()
                if row is None or row[0] is None:
                    return HistoryLoad()
                cur = await conn.execute(self._q("SELECT subject, data::text FROM {s}.history"))
                raw = {str(s): str(d) for s, d in await cur.fetchall()}
        except (Error, OSError) as exc:
            raise self._error(exc) from None
        return _decode(raw, HistoryLoad())

    async def save(self, histories: Mapping[str, History]) -> None:
        from psycopg import Error

        if not histories:
            return
        try:
            async with await self._connect() as conn, conn.transaction():
                await conn.execute(self._q("CREATE SCHEMA IF NOT EXISTS {s}"))
                await conn.execute(
                    self._q(
                        "CREATE TABLE IF NOT EXISTS {s}.history (subject text PRIMARY KEY, "
                        "data jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
                    )
                )
                async with conn.cursor() as cur:
                    await cur.executemany(
                        self._q(
                            "INSERT INTO {s}.history (subject, data) VALUES (%s, %s::jsonb) "
                            "ON CONFLICT (subject) DO UPDATE SET data = EXCLUDED.data, "
                            "updated_at = now()"
                        ),
                        [(s, _encode(h)) for s, h in histories.items()],
                    )
        except (Error, OSError) as exc:
            raise self._error(exc) from None


_BACKENDS: dict[str, type[Any]] = {
    "memory": _MemoryHistory,
    "file": _FileHistory,
    "sqlite": _FileHistory,
    "redis": _RedisHistory,
    "rediss": _RedisHistory,
    "postgresql": _PostgresHistory,
    "postgres": _PostgresHistory,
}


def open_history_store(url: str) -> HistoryStore:
    """The history store beside the state store `url` names (not yet opened).

    Raises:
        StoreURLError: An unknown scheme.
    """
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    backend = _BACKENDS.get(scheme)
    if backend is None:
        raise StoreURLError(f"no history store for URL scheme {scheme!r} in {redact_url(url)!r}")
    store: HistoryStore = backend(url)
    return store


async def read_histories(url: str) -> HistoryLoad:
    """Every subject's history, read once (for another process: `status`, a replica).

    Raises:
        StoreURLError: An unknown scheme.
        StoreUnavailableError: The backend cannot be reached.
    """
    async with open_history_store(url) as store:
        return await store.load()
