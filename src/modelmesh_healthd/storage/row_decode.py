"""Reading a row store back: verify every row, set the bad ones apart, keep the rest consistent.

The counterpart of `row_encode`; every row backend loads through `decode_store` and `load_result`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from modelmesh_healthd.state.model import ACTIVE, ModelState, PoolState
from modelmesh_healthd.state.provider import ProviderState
from modelmesh_healthd.state.system import (
    SCHEMA_VERSION,
    Snapshot,
    SnapshotError,
    SystemState,
    migrate,
)
from modelmesh_healthd.storage.base import Envelope, LoadResult, SetAside
from modelmesh_healthd.storage.row_encode import (
    KINDS,
    MEMBERS,
    META,
    POOL,
    PROVIDER,
    ROW_LAYOUT,
    row_checksum,
)

__all__ = ["Decoded", "decode_store", "load_result"]


@dataclass(slots=True)
class Decoded:
    """The outcome of verifying a row store's content.

    Attributes:
        snapshot: The state built from the good rows, or None (empty store, or whole store bad).
        bad_rows: (kind, key, reason) of each row that failed its checksum or did not parse.
        whole_reason: Set when the store as a whole cannot be used (bad or missing meta row,
            unknown schema version): every row is then to be set aside.
        epoch: The epoch in the meta row, when it could be read.
    """

    snapshot: Snapshot | None
    bad_rows: list[tuple[str, str, str]] = field(default_factory=list)
    whole_reason: str | None = None
    epoch: int = 0


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def _decode_meta(data: str, checksum: str) -> Envelope:
    if row_checksum(META, META, data) != checksum:
        raise SnapshotError("meta row checksum mismatch: altered or torn")
    try:
        meta = json.loads(data)
    except ValueError as exc:
        raise SnapshotError(f"meta row is not JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise SnapshotError("meta row is not an object")
    layout, version = meta.get("layout"), meta.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise SnapshotError(f"schema_version must be an integer, got {version!r}")
    if not 0 <= version <= SCHEMA_VERSION:
        raise SnapshotError(
            f"unknown schema version {version} (this daemon reads up to {SCHEMA_VERSION})"
        )
    if layout != ROW_LAYOUT:
        raise SnapshotError(f"unknown row layout {layout!r} (this daemon reads {ROW_LAYOUT})")
    written_at, writer_id, epoch = meta.get("written_at"), meta.get("writer_id"), meta.get("epoch")
    timestamp = meta.get("timestamp")
    if isinstance(epoch, bool) or not isinstance(epoch, int):
        raise SnapshotError(f"epoch must be an integer, got {epoch!r}")
    if isinstance(written_at, bool) or not isinstance(written_at, int | float):
        raise SnapshotError(f"written_at must be a number, got {written_at!r}")
    if not isinstance(writer_id, str):
        raise SnapshotError(f"writer_id must be a string, got {writer_id!r}")
    if timestamp is not None and not _number(timestamp):
        raise SnapshotError(f"timestamp must be a number, got {timestamp!r}")
    return Envelope(version, float(written_at), writer_id, epoch, timestamp)


_NOT_PARSED = object()


def _parse_row(
    kind: str, key: str, data: str, checksum: str, bad: dict[tuple[str, str], str]
) -> Any:
    """Checksum and JSON-parse one row (`_NOT_PARSED`, with the reason in `bad`, if it fails)."""
    if kind not in KINDS:
        bad[(kind, key)] = f"unknown row kind {kind!r}"
    elif row_checksum(kind, key, data) != checksum:
        bad[(kind, key)] = "checksum mismatch: altered or torn"
    else:
        try:
            return json.loads(data)
        except ValueError as exc:
            bad[(kind, key)] = f"not JSON: {exc}"
    return _NOT_PARSED


def decode_store(
    meta: tuple[str, str] | None, rows: Iterable[tuple[str, str, str, str]]
) -> Decoded:
    """Verify a row store's content and build the state from the good rows.

    A provider row that fails (checksum, JSON, or any of its provider's or models' fields) is
    bad as a whole: the provider and its models are left out together, so the remainder never
    holds a provider whose counters disagree with its models. Pools then list only models that
    loaded, split into active and standby by their status.

    Args:
        meta: (data, checksum) of the meta row, or None when there is none.
        rows: (kind, key, data, checksum) of every row.

    Returns:
        The snapshot of the good rows, the bad rows, or the reason the whole store is bad.
    """
    rows = list(rows)
    if meta is None:
        return Decoded(None) if not rows else Decoded(None, whole_reason="rows but no meta row")
    try:
        envelope = _decode_meta(*meta)
    except SnapshotError as exc:
        return Decoded(None, whole_reason=str(exc))

    # One provider row at a time, parsed, built and dropped before the next. Parsing every row
    # first left the state's objects scattered among the parser's garbage of the whole store,
    # and CPython returns an arena only when nothing in it is alive: a restarted daemon kept
    # several times the memory of a fresh one (docs/benchmarks.md, the `--restart` figure).
    state = SystemState(timestamp=envelope.timestamp)
    bad: dict[tuple[str, str], str] = {}
    owner: dict[str, str] = {}
    pools: dict[str, dict[str, Any]] = {POOL: {}, MEMBERS: {}}
    version = envelope.schema_version
    for kind, key, data, checksum in rows:
        value = _parse_row(kind, key, data, checksum, bad)
        if value is _NOT_PARSED:
            continue
        if kind == PROVIDER:
            _load_group(state, key, value, version=version, owner=owner, bad=bad)
        else:
            pools[kind][key] = value
    for kind, provider in list(bad):  # a later row under a good one's key spoils both
        if kind == PROVIDER:
            state.providers.pop(provider, None)
            for model_id in [m for m, p in owner.items() if p == provider]:
                state.models.pop(model_id, None)
    headers = migrate({"providers": {}, "models": {}, "pools": pools[POOL]}, version)["pools"]
    _parse_pools(state, headers, pools[MEMBERS], bad)
    snapshot = Snapshot(
        state=state,
        written_at=envelope.written_at,
        writer_id=envelope.writer_id,
        epoch=envelope.epoch,
    )
    bad_rows = [(kind, key, reason) for (kind, key), reason in bad.items()]
    return Decoded(snapshot, bad_rows=bad_rows, epoch=envelope.epoch)


def _load_group(
    state: SystemState,
    provider: str,
    value: Any,
    *,
    version: int,
    owner: dict[str, str],
    bad: dict[tuple[str, str], str],
) -> None:
    """One provider row (the provider and its models) into `state`, or its reason into `bad`.

    Migrations run on the row alone: they must change providers and models one by one.
    """
    inner = value.get("models") if isinstance(value, dict) else None
    head = value.get("provider") if isinstance(value, dict) else None
    if not isinstance(inner, dict) or not isinstance(head, dict):
        bad[(PROVIDER, provider)] = "provider row must hold 'provider' and 'models' objects"
        return
    twice = sorted(m for m in inner if m in owner)
    if twice:
        bad[(PROVIDER, provider)] = f"models {twice} are also in another provider row"
        return
    for model_id in inner:
        owner[model_id] = provider
    group = migrate({"providers": {provider: head}, "models": inner, "pools": {}}, version)
    try:
        ps = ProviderState.from_dict(group["providers"][provider])
    except ValueError as exc:
        bad[(PROVIDER, provider)] = f"provider: {exc}"
        return
    models: dict[str, ModelState] = {}
    for model_id, model in group["models"].items():
        try:
            models[model_id] = ModelState.from_dict(model)
        except ValueError as exc:
            bad[(PROVIDER, provider)] = f"model {model_id!r}: {exc}"
            return
    state.providers[provider] = ps
    state.models.update(models)


def _parse_pools(
    state: SystemState,
    headers: dict[str, Any],
    members: dict[str, Any],
    bad: dict[tuple[str, str], str],
) -> None:
    """Pools from their headers and member lists, split by the loaded models' statuses."""
    for pool_id, value in headers.items():
        try:
            if not isinstance(value, dict):
                raise ValueError("pool row is not an object")
            header = PoolState.from_dict(value)
        except ValueError as exc:
            bad[(POOL, pool_id)] = str(exc)
            continue
        pool = PoolState(rotation_count=header.rotation_count, last_rotation=header.last_rotation)
        listed = members.get(pool_id, {"models": []})
        ids = listed.get("models") if isinstance(listed, dict) else None
        if not isinstance(ids, list) or not all(isinstance(m, str) for m in ids):
            bad[(MEMBERS, pool_id)] = "members row must be {'models': [model ids]}"
            ids = []
        for model_id in ids:
            model = state.models.get(model_id)
            if model is not None:
                active = model.status == ACTIVE
                (pool.active_models if active else pool.standby_models).add(model_id)
        state.pools[pool_id] = pool


def load_result(decoded: Decoded, *, row_count: int, moved_to: str | None) -> LoadResult:
    """Turn a verified row store into a LoadResult.

    Args:
        decoded: The outcome of `decode_store`.
        row_count: How many rows the store held (named when the whole store is set aside).
        moved_to: Where the backend moved the bad data (None for a read-only load).

    Returns:
        The good remainder (or None) and one SetAside per bad row, or one for the whole store.
    """
    if decoded.whole_reason is not None:
        what = f"whole store (meta row and {row_count} rows)"
        return LoadResult(None, [SetAside(what, decoded.whole_reason, moved_to)], decoded.epoch)
    aside = [
        SetAside(f"{kind} row {key!r}", reason, moved_to) for kind, key, reason in decoded.bad_rows
    ]
    return LoadResult(decoded.snapshot, aside, decoded.epoch)
