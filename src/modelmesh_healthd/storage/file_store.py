"""`file:///path/state.json`: the whole snapshot as one JSON document, replaced atomically.

Each write goes to a temporary file in the same directory, is fsynced, and renamed over the
snapshot; the directory is fsynced after the rename. The previous snapshot stays beside it as
`state.json.1`. The document is the snapshot envelope (`Snapshot.to_dict()` form), so ModelMesh
and `jq` can read it, and a ModelMesh state file (version 0) placed here loads and is migrated.

A write costs the size of the whole state (it is one document). The store keeps each row's
canonical JSON from the batches it was given and splices the document together from them, so a
small change does not re-serialize the fleet, but the bytes are still all written.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from modelmesh_healthd.state.model import ACTIVE
from modelmesh_healthd.state.system import Snapshot, SnapshotError
from modelmesh_healthd.storage._paths import corrupt_name, fsync_dir, path_from_url
from modelmesh_healthd.storage.base import (
    Envelope,
    LoadResult,
    LockHandle,
    LockOwner,
    SetAside,
    WriteBatch,
)
from modelmesh_healthd.storage.errors import StoreError, StoreUnavailableError
from modelmesh_healthd.storage.filelock import FileLock
from modelmesh_healthd.storage.row_encode import MEMBERS, POOL, PROVIDER, encode_json
from modelmesh_healthd.storage.urls import redact_url

__all__ = ["FileStore", "parse_snapshot_bytes"]

_MISSING: Any = object()


def parse_snapshot_bytes(raw: bytes) -> Snapshot:
    """Verify and load a snapshot document.

    Raises:
        SnapshotError: Empty, NUL bytes, not JSON, not an envelope, bad checksum, unknown version.
    """
    if not raw.strip():
        raise SnapshotError("empty file")
    if b"\x00" in raw:
        raise SnapshotError("file contains NUL bytes (torn or zero-filled write)")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise SnapshotError(f"not valid JSON (truncated?): {exc}") from None
    return Snapshot.from_dict(data)


class FileStore:
    """One JSON document per state, written atomically, previous generation kept."""

    incremental = False

    def __init__(self, url: str, *, fsync: bool = True) -> None:
        """Args:
        url: `file:///absolute/path/state.json` or `file:relative/state.json`.
        fsync: Flush file and directory to disk on every write (off only in benchmarks).
        """
        self.url = redact_url(url)
        self.path = path_from_url(url, url)
        self.previous = self.path.with_name(self.path.name + ".1")
        self._fsync = fsync
        self._lock = FileLock(self.path.with_name(self.path.name + ".lock"), url)
        self._providers: dict[str, str] = {}
        self._models: dict[str, str] = {}
        self._pools: dict[str, dict[str, Any]] = {}
        self._members: dict[str, list[str]] = {}
        self._groups: dict[str, list[str]] = {}
        """Provider id -> its model ids, as its last provider row listed them."""
        self._active: dict[str, bool] = {}
        """Model id -> active?, kept from the model rows to split each pool's members."""
        self._based = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self._lock.release)

    # --- lock -----------------------------------------------------------------

    async def acquire_lock(self, owner: LockOwner) -> LockHandle:
        """flock `state.json.lock` (see `StateStore.acquire_lock`)."""

        def acquire() -> None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailableError(f"cannot create {self.path.parent}: {exc}") from None
            self._lock.acquire(owner)
            # A writer killed mid-write leaves its temporary files; only the lock holder
            # writes them, so whatever is there now is a dead writer's and can go.
            for pattern in (f".{self.path.name}.tmp-*", f".{self.path.name}.prev-*"):
                for leftover in self.path.parent.glob(pattern):
                    with contextlib.suppress(OSError):
                        leftover.unlink()

        await asyncio.to_thread(acquire)
        return LockHandle(self.url, owner)

    async def release_lock(self, handle: LockHandle) -> None:
        """Drop the flock (see `StateStore.release_lock`)."""
        await asyncio.to_thread(self._lock.release)

    async def lock_owner(self) -> LockOwner | None:
        """The live holder named in the lock file."""
        return await asyncio.to_thread(self._lock.current_owner)

    async def ping(self) -> None:
        """Check the directory is there."""
        if not await asyncio.to_thread(self.path.parent.is_dir):
            raise StoreUnavailableError(f"directory {self.path.parent} does not exist")

    # --- load -------------------------------------------------------------------

    async def load(self, *, repair: bool) -> LoadResult:
        """Load `state.json`, falling back to `state.json.1` (see `StateStore.load`).

        A corrupt file is renamed `<name>.corrupt-<time>` (with `repair`; a read-only load
        leaves it in place) and the previous generation is tried next.
        """
        return await asyncio.to_thread(self._load_sync, repair)

    def _load_sync(self, repair: bool) -> LoadResult:
        aside: list[SetAside] = []
        for path in (self.path, self.previous):
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreUnavailableError(f"cannot read {path}: {exc}") from None
            try:
                snapshot = parse_snapshot_bytes(raw)
            except SnapshotError as exc:
                aside.append(SetAside(f"file {path}", str(exc), self._set_aside(path, repair)))
                continue
            return LoadResult(snapshot, aside, snapshot.epoch)
        return LoadResult(None, aside, 0)

    @staticmethod
    def _set_aside(path: Path, repair: bool) -> str | None:
        if not repair:
            return None
        target = corrupt_name(path)
        try:
            os.replace(path, target)
        except OSError as exc:
            raise StoreUnavailableError(f"cannot set {path} aside: {exc}") from None
        return str(target)

    # --- write ------------------------------------------------------------------

    async def write(self, batch: WriteBatch) -> None:
        """Apply the batch to the rows held here and replace the file (see `StateStore.write`)."""
        await asyncio.to_thread(self._write_sync, batch)

    def _apply(self, batch: WriteBatch) -> Callable[[], None]:
        """Apply a batch to the rows held here; returns how to undo it.

        The undo matters: the manager only counts a write once it succeeded, so a row that was
        applied here by a failed write and then changed back would otherwise stay here, unseen
        by the manager, and be written with the next document.
        """
        if batch.replace:
            saved = (
                self._providers,
                self._models,
                self._pools,
                self._members,
                self._groups,
                self._active,
                self._based,
            )
            self._providers, self._models, self._pools, self._members = {}, {}, {}, {}
            self._groups, self._active, self._based = {}, {}, True

            def restore() -> None:
                (
                    self._providers,
                    self._models,
                    self._pools,
                    self._members,
                    self._groups,
                    self._active,
                    self._based,
                ) = saved

            self._apply_rows(batch, None)
            return restore
        if not self._based:
            raise StoreError(f"{self.url}: the first write of a session must be a full one")
        log: list[tuple[dict[str, Any], str, Any]] = []
        self._apply_rows(batch, log)

        def undo() -> None:
            for table, key, old in reversed(log):
                if old is _MISSING:
                    table.pop(key, None)
                else:
                    table[key] = old

        return undo

    def _apply_rows(
        self, batch: WriteBatch, log: list[tuple[dict[str, Any], str, Any]] | None
    ) -> None:
        def put(table: dict[str, Any], key: str, value: Any) -> None:
            if log is not None:
                log.append((table, key, table.get(key, _MISSING)))
            if value is _MISSING:
                table.pop(key, None)
            else:
                table[key] = value

        for row in batch.rows:
            if row.kind == PROVIDER:
                # The document lists providers and models apart: split the row, re-encode each
                # part canonically (a whole-document write costs the fleet's size anyway).
                group = None if row.data is None else json.loads(row.data)
                for model in self._groups.get(row.key, ()):
                    put(self._models, model, _MISSING)
                    put(self._active, model, _MISSING)
                if group is None:
                    put(self._providers, row.key, _MISSING)
                    put(self._groups, row.key, _MISSING)
                    continue
                put(self._providers, row.key, encode_json(group["provider"]))
                put(self._groups, row.key, list(group["models"]))
                for model, value in group["models"].items():
                    put(self._models, model, encode_json(value))
                    put(self._active, model, value["status"] == ACTIVE)
            elif row.kind == POOL:
                put(self._pools, row.key, _MISSING if row.data is None else json.loads(row.data))
            elif row.kind == MEMBERS:
                members = _MISSING if row.data is None else json.loads(row.data)["models"]
                put(self._members, row.key, members)

    def _document(self, env: Envelope) -> bytes:
        def section(items: dict[str, str]) -> str:
            return "{" + ",".join(f"{encode_json(k)}:{v}" for k, v in sorted(items.items())) + "}"

        pools = {}
        active = self._active
        for name, header in self._pools.items():
            members = [m for m in self._members.get(name, ()) if m in active]
            pools[name] = encode_json(
                {
                    **header,
                    "active_models": sorted(m for m in members if active[m]),
                    "standby_models": sorted(m for m in members if not active[m]),
                }
            )
        state = (
            f'{{"models":{section(self._models)},"pools":{section(pools)},'
            f'"providers":{section(self._providers)},"timestamp":{encode_json(env.timestamp)}}}'
        ).encode()
        checksum = "sha256:" + hashlib.sha256(state).hexdigest()
        head = (
            f'{{"checksum":{encode_json(checksum)},"epoch":{encode_json(env.epoch)},'
            f'"schema_version":{encode_json(env.schema_version)},"state":'
        )
        tail = (
            f',"writer_id":{encode_json(env.writer_id)},'
            f'"written_at":{encode_json(env.written_at)}}}'
        )
        return head.encode() + state + tail.encode()

    def _write_sync(self, batch: WriteBatch) -> None:
        self._lock.verify()
        undo = self._apply(batch)
        try:
            self._write_document(self._document(batch.envelope))
        except BaseException:
            undo()
            raise

    def _write_document(self, document: bytes) -> None:
        directory = self.path.parent
        tmp = directory / f".{self.path.name}.tmp-{os.getpid()}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                view = memoryview(document)
                while view:
                    view = view[os.write(fd, view) :]
                if self._fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            self._keep_previous()
            os.replace(tmp, self.path)
            if self._fsync:
                fsync_dir(directory)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StoreUnavailableError(f"cannot write {self.path}: {exc}") from None

    def _keep_previous(self) -> None:
        # A hard link keeps `state.json` in place the whole time (no instant without it);
        # it is then renamed over the old `.1` atomically.
        link = self.path.with_name(f".{self.path.name}.prev-{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        try:
            os.link(self.path, link)
        except FileNotFoundError:
            return  # first write, or the current file was set aside as corrupt
        os.replace(link, self.previous)
