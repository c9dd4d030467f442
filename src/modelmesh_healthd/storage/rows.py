"""The row form of a SystemState: what row backends store and how it is verified on the way back.

A state becomes one row per provider, model and pool (rotation counters), plus one `member` row
per (pool, model) holding whether the model is active or standby in that pool. Splitting pool
membership into rows is what keeps a deactivation's write small: a pool of 30,000 models is not
rewritten because one of them moved.

Every row carries a checksum over its kind, key and canonical JSON, so a row that was altered,
truncated or written under another key is caught at load and set aside on its own, while the
rest of the state still loads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from modelmesh_healthd.state.model import ACTIVE, STANDBY, ModelState, PoolState
from modelmesh_healthd.state.provider import ProviderState
from modelmesh_healthd.state.system import (
    SCHEMA_VERSION,
    Snapshot,
    SnapshotError,
    SystemState,
    migrate,
)
from modelmesh_healthd.storage.base import Envelope, Row, WriteBatch

__all__ = [
    "KINDS",
    "MEMBER",
    "MODEL",
    "POOL",
    "PROVIDER",
    "ROW_LAYOUT",
    "Decoded",
    "all_rows",
    "decode_store",
    "encode_json",
    "make_batch",
    "member_key",
    "row_checksum",
    "row_for",
]

PROVIDER, MODEL, POOL, MEMBER = "provider", "model", "pool", "member"
KINDS: tuple[str, ...] = (PROVIDER, MODEL, POOL, MEMBER)
META = "meta"

ROW_LAYOUT = 1
"""Version of the row split itself (which kinds exist, what a member row holds)."""

# One encoder instance: `json.dumps` with non-default options builds a new encoder per call, a
# measurable share of a 100,000-row full save. Same options as `canonical_json`, so equal bytes.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
encode_json = _ENCODER.encode


def row_checksum(kind: str, key: str, data: str) -> str:
    """`sha256:<hex>` over kind, key and data: a row moved under another key fails it too."""
    digest = hashlib.sha256(f"{kind}\x00{key}\x00{data}".encode()).hexdigest()
    return f"sha256:{digest}"


def member_key(pool: str, model: str) -> str:
    """The key of a membership row (a JSON array, since ids may contain any character)."""
    return encode_json([pool, model])


def _parse_member_key(key: str) -> tuple[str, str]:
    value = json.loads(key)
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, str) for v in value):
        raise ValueError("member key must be a [pool, model] pair")
    return value[0], value[1]


def _row(kind: str, key: str, value: Any) -> Row:
    data = encode_json(value)
    return Row(kind, key, data, row_checksum(kind, key, data))


def _pool_header(pool: PoolState) -> dict[str, Any]:
    return {"rotation_count": pool.rotation_count, "last_rotation": pool.last_rotation}


def row_for(state: SystemState, kind: str, key: str) -> Row:
    """The row of `key` as `state` has it now: an upsert, or a deletion when it is gone."""
    value: Any = None
    if kind == PROVIDER:
        provider = state.providers.get(key)
        value = None if provider is None else provider.to_dict()
    elif kind == MODEL:
        model = state.models.get(key)
        value = None if model is None else model.to_dict()
    elif kind == POOL:
        pool = state.pools.get(key)
        value = None if pool is None else _pool_header(pool)
    elif kind == MEMBER:
        pool_id, model_id = _parse_member_key(key)
        members = state.pools.get(pool_id)
        if members is not None and model_id in members.active_models:
            value = {"status": ACTIVE}
        elif members is not None and model_id in members.standby_models:
            value = {"status": STANDBY}
    else:  # pragma: no cover - the manager only asks for the four kinds
        raise ValueError(f"unknown row kind {kind!r}")
    if value is None:
        return Row(kind, key, None, None)
    return _row(kind, key, value)


def all_rows(state: SystemState) -> Iterator[Row]:
    """Every row of `state` (a full save)."""
    for name, provider in state.providers.items():
        yield _row(PROVIDER, name, provider.to_dict())
    for name, model in state.models.items():
        yield _row(MODEL, name, model.to_dict())
    for name, pool in state.pools.items():
        yield _row(POOL, name, _pool_header(pool))
        for model_id in pool.active_models:
            yield _row(MEMBER, member_key(name, model_id), {"status": ACTIVE})
        for model_id in pool.standby_models:
            yield _row(MEMBER, member_key(name, model_id), {"status": STANDBY})


def make_batch(envelope: Envelope, rows: list[Row], *, replace: bool) -> WriteBatch:
    """Wrap rows with their meta row."""
    meta = encode_json(
        {
            "layout": ROW_LAYOUT,
            "schema_version": envelope.schema_version,
            "written_at": envelope.written_at,
            "writer_id": envelope.writer_id,
            "epoch": envelope.epoch,
            "timestamp": envelope.timestamp,
        }
    )
    return WriteBatch(envelope, rows, replace, meta, row_checksum(META, META, meta))


# --- reading ---------------------------------------------------------------


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
    if layout != ROW_LAYOUT:
        raise SnapshotError(f"unknown row layout {layout!r} (this daemon reads {ROW_LAYOUT})")
    if isinstance(version, bool) or not isinstance(version, int):
        raise SnapshotError(f"schema_version must be an integer, got {version!r}")
    if not 0 <= version <= SCHEMA_VERSION:
        raise SnapshotError(
            f"unknown schema version {version} (this daemon reads up to {SCHEMA_VERSION})"
        )
    written_at, writer_id, epoch = meta.get("written_at"), meta.get("writer_id"), meta.get("epoch")
    timestamp = meta.get("timestamp")
    if isinstance(epoch, bool) or not isinstance(epoch, int):
        raise SnapshotError(f"epoch must be an integer, got {epoch!r}")
    if isinstance(written_at, bool) or not isinstance(written_at, int | float):
        raise SnapshotError(f"written_at must be a number, got {written_at!r}")
    if not isinstance(writer_id, str):
        raise SnapshotError(f"writer_id must be a string, got {writer_id!r}")
    if timestamp is not None and (
        isinstance(timestamp, bool) or not isinstance(timestamp, int | float)
    ):
        raise SnapshotError(f"timestamp must be a number, got {timestamp!r}")
    return Envelope(
        version, float(written_at), writer_id, epoch, None if timestamp is None else timestamp
    )


def decode_store(
    meta: tuple[str, str] | None, rows: Iterable[tuple[str, str, str, str]]
) -> Decoded:
    """Verify a row store's content and build the state from the good rows.

    The good remainder is kept consistent: a pool lists only models that loaded, and a
    membership row whose pool or model is gone is dropped with it. (Counters such as
    `active_model_count` are made true again by `reconcile`, which the daemon runs at start.)

    Args:
        meta: (data, checksum) of the meta row, or None when there is none.
        rows: (kind, key, data, checksum) of every row.

    Returns:
        The snapshot built from the good rows, the bad rows, or the reason the whole store is bad.
    """
    rows = list(rows)
    if meta is None:
        if not rows:
            return Decoded(None)
        return Decoded(None, whole_reason=f"{len(rows)} rows but no meta row")
    try:
        envelope = _decode_meta(*meta)
    except SnapshotError as exc:
        return Decoded(None, whole_reason=str(exc))

    bad: list[tuple[str, str, str]] = []
    parsed: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
    for kind, key, data, checksum in rows:
        if kind not in parsed:
            bad.append((kind, key, f"unknown row kind {kind!r}"))
        elif row_checksum(kind, key, data) != checksum:
            bad.append((kind, key, "checksum mismatch: altered or torn"))
        else:
            try:
                parsed[kind][key] = json.loads(data)
            except ValueError as exc:
                bad.append((kind, key, f"not JSON: {exc}"))

    members: dict[str, dict[str, str]] = {}
    for key, value in parsed[MEMBER].items():
        try:
            pool_id, model_id = _parse_member_key(key)
            status = value.get("status") if isinstance(value, dict) else None
            if status not in (ACTIVE, STANDBY):
                raise ValueError(f"member status must be active or standby, got {status!r}")
        except ValueError as exc:
            bad.append((MEMBER, key, str(exc)))
            continue
        members.setdefault(pool_id, {})[model_id] = status

    state_dict: dict[str, Any] = {
        "providers": parsed[PROVIDER],
        "models": parsed[MODEL],
        "pools": {
            pool_id: {
                **(header if isinstance(header, dict) else {"_not_an_object": header}),
                "active_models": sorted(
                    m for m, s in members.get(pool_id, {}).items() if s == ACTIVE
                ),
                "standby_models": sorted(
                    m for m, s in members.get(pool_id, {}).items() if s == STANDBY
                ),
            }
            for pool_id, header in parsed[POOL].items()
        },
        "timestamp": envelope.timestamp,
    }
    state_dict = migrate(state_dict, envelope.schema_version)
    state = SystemState(timestamp=envelope.timestamp)
    _parse_section(
        state_dict,
        "providers",
        PROVIDER,
        parse=ProviderState.from_dict,
        out=state.providers,
        bad=bad,
    )
    _parse_section(
        state_dict, "models", MODEL, parse=ModelState.from_dict, out=state.models, bad=bad
    )
    _parse_section(state_dict, "pools", POOL, parse=_parse_pool, out=state.pools, bad=bad)
    for pool in state.pools.values():
        pool.active_models &= state.models.keys()
        pool.standby_models &= state.models.keys()
    snapshot = Snapshot(
        state=state,
        written_at=envelope.written_at,
        writer_id=envelope.writer_id,
        epoch=envelope.epoch,
    )
    return Decoded(snapshot, bad_rows=bad, epoch=envelope.epoch)


def _parse_pool(data: dict[str, Any]) -> PoolState:
    if "_not_an_object" in data:
        raise ValueError("pool row is not an object")
    return PoolState.from_dict(data)


def _parse_section(
    state_dict: dict[str, Any],
    section: str,
    kind: str,
    *,
    parse: Any,
    out: dict[str, Any],
    bad: list[tuple[str, str, str]],
) -> None:
    for key, value in state_dict.get(section, {}).items():
        try:
            out[key] = parse(value)
        except ValueError as exc:
            bad.append((kind, key, str(exc)))
