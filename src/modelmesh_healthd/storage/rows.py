"""The row form of a SystemState: what row backends store and how it is verified on the way back.

A state becomes one row per provider and per model, and two per pool: `pool` (rotation
counters, rewritten when a model moves) and `members` (the pool's model ids, rewritten only when
the topology changes). Which members are active and which in standby is not stored separately:
the core keeps a model in its pools' active sets exactly while the model's status is active
(`reconcile` rebuilds pool sets from the model statuses the same way), so the split is derived
from the model rows at load. That is what keeps a deactivation's write small: a pool of 30,000
models is not rewritten because one of them moved.

Every row carries a checksum over its kind, key and canonical JSON, so a row that was altered,
truncated or written under another key is caught at load and set aside on its own, while the
rest of the state still loads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter
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
from modelmesh_healthd.storage.base import Envelope, Row, WriteBatch

__all__ = [
    "KINDS",
    "MEMBERS",
    "MODEL",
    "POOL",
    "PROVIDER",
    "ROW_LAYOUT",
    "Decoded",
    "all_rows",
    "decode_store",
    "encode_json",
    "make_batch",
    "row_checksum",
    "row_for",
]

PROVIDER, MODEL, POOL, MEMBERS = "provider", "model", "pool", "members"
KINDS: tuple[str, ...] = (PROVIDER, MODEL, POOL, MEMBERS)
META = "meta"

ROW_LAYOUT = 2
"""Version of the row split itself (which kinds exist and what they hold)."""

# One encoder instance: `json.dumps` with non-default options builds a new encoder per call, a
# measurable share of a 100,000-row full save. Same options as `canonical_json`, so equal bytes.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
encode_json: Callable[[Any], str] = _ENCODER.encode


def _entity_encoder(cls: type[Any]) -> Callable[[Any], str]:
    """A faster `encode_json(obj.to_dict())` for a flat dataclass, or that itself as fallback.

    It reads the fields in sorted order with one C-level attrgetter and encodes without
    re-sorting; it is used only if it reproduces `to_dict()` exactly for a default instance, so
    a future `to_dict` with computed keys silently gets the plain path instead of wrong rows.
    """

    def plain(obj: Any) -> str:
        return encode_json(obj.to_dict())

    try:
        from json.encoder import encode_basestring

        # The C encoder factory is CPython's accelerator, absent from the typing stubs.
        c_make_encoder = getattr(json.encoder, "c_make_encoder", None)

        def refuse(value: object) -> object:
            raise TypeError(f"{type(value).__name__} is not JSON serializable")

        if c_make_encoder is None:  # pragma: no cover - CPython has the C accelerator
            return plain
        unsorted = c_make_encoder(
            None, refuse, encode_basestring, None, ":", ",", False, False, True
        )
        names = sorted(cls().to_dict())
        values = attrgetter(*names)

        def fast(obj: Any) -> str:
            return "".join(unsorted(dict(zip(names, values(obj), strict=True)), 0))

        sample = cls()
        if fast(sample) != plain(sample):  # pragma: no cover - guards a future to_dict change
            return plain
    except (ImportError, TypeError, AttributeError):  # pragma: no cover - other Pythons
        return plain
    return fast


_encode_provider = _entity_encoder(ProviderState)
_encode_model = _entity_encoder(ModelState)


def row_checksum(kind: str, key: str, data: str) -> str:
    """`sha256:<hex>` over kind, key and data: a row moved under another key fails it too."""
    digest = hashlib.sha256(f"{kind}\x00{key}\x00{data}".encode()).hexdigest()
    return f"sha256:{digest}"


def _row(kind: str, key: str, data: str) -> Row:
    return Row(kind, key, data, row_checksum(kind, key, data))


def _pool_header(pool: PoolState) -> str:
    return encode_json({"rotation_count": pool.rotation_count, "last_rotation": pool.last_rotation})


def _pool_members(pool: PoolState) -> str:
    return encode_json({"models": sorted(pool.active_models | pool.standby_models)})


def row_for(state: SystemState, kind: str, key: str) -> Row:
    """The row of `key` as `state` has it now: an upsert, or a deletion when it is gone."""
    data: str | None = None
    if kind == PROVIDER:
        provider = state.providers.get(key)
        data = None if provider is None else _encode_provider(provider)
    elif kind == MODEL:
        model = state.models.get(key)
        data = None if model is None else _encode_model(model)
    elif kind in (POOL, MEMBERS):
        pool = state.pools.get(key)
        if pool is not None:
            data = _pool_header(pool) if kind == POOL else _pool_members(pool)
    else:  # pragma: no cover - the manager only asks for the four kinds
        raise ValueError(f"unknown row kind {kind!r}")
    if data is None:
        return Row(kind, key, None, None)
    return _row(kind, key, data)


def all_rows(state: SystemState) -> Iterator[Row]:
    """Every row of `state` (a full save)."""
    encode_provider, encode_model = _encode_provider, _encode_model
    for name, provider in state.providers.items():
        data = encode_provider(provider)
        yield Row(PROVIDER, name, data, row_checksum(PROVIDER, name, data))
    for name, model in state.models.items():
        data = encode_model(model)
        yield Row(MODEL, name, data, row_checksum(MODEL, name, data))
    for name, pool in state.pools.items():
        yield _row(POOL, name, _pool_header(pool))
        yield _row(MEMBERS, name, _pool_members(pool))


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


def _member_ids(value: Any) -> list[str]:
    models = value.get("models") if isinstance(value, dict) else None
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise ValueError("members row must be {'models': [model ids]}")
    return models


def decode_store(
    meta: tuple[str, str] | None, rows: Iterable[tuple[str, str, str, str]]
) -> Decoded:
    """Verify a row store's content and build the state from the good rows.

    The good remainder is kept consistent: a pool lists only models that loaded, split into
    active and standby by their status. (Counters such as `active_model_count` are made true
    again by `reconcile`, which the daemon runs at start.)

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

    parsed, bad = _verify_rows(rows)
    members: dict[str, list[str]] = {}
    for pool_id, value in parsed[MEMBERS].items():
        try:
            members[pool_id] = _member_ids(value)
        except ValueError as exc:
            bad.append((MEMBERS, pool_id, str(exc)))

    state_dict = migrate(
        {
            "providers": parsed[PROVIDER],
            "models": parsed[MODEL],
            "pools": parsed[POOL],
            "timestamp": envelope.timestamp,
        },
        envelope.schema_version,
    )
    state = SystemState(timestamp=envelope.timestamp)
    _parse_section(state_dict, "providers", PROVIDER, ProviderState.from_dict, state.providers, bad)
    _parse_section(state_dict, "models", MODEL, ModelState.from_dict, state.models, bad)
    _parse_section(state_dict, "pools", POOL, _parse_pool_header, state.pools, bad)
    for pool_id, pool in state.pools.items():
        for model_id in members.get(pool_id, ()):
            model = state.models.get(model_id)
            if model is not None:
                (pool.active_models if model.status == ACTIVE else pool.standby_models).add(
                    model_id
                )
    snapshot = Snapshot(
        state=state,
        written_at=envelope.written_at,
        writer_id=envelope.writer_id,
        epoch=envelope.epoch,
    )
    return Decoded(snapshot, bad_rows=bad, epoch=envelope.epoch)


def _verify_rows(
    rows: list[tuple[str, str, str, str]],
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str, str]]]:
    """Checksum and JSON-parse every row: (kind -> key -> value, bad rows)."""
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
    return parsed, bad


def _parse_pool_header(data: Any) -> PoolState:
    if not isinstance(data, dict):
        raise ValueError("pool row is not an object")
    # The member sets come from the members row and the model statuses, never from here.
    header = PoolState.from_dict(data)
    return PoolState(rotation_count=header.rotation_count, last_rotation=header.last_rotation)


def _parse_section(  # noqa: PLR0917 - a private helper called three times with the same shape
    state_dict: dict[str, Any],
    section: str,
    kind: str,
    parse: Callable[[Any], Any],
    out: dict[str, Any],
    bad: list[tuple[str, str, str]],
) -> None:
    for key, value in state_dict.get(section, {}).items():
        try:
            out[key] = parse(value)
        except ValueError as exc:
            bad.append((kind, key, str(exc)))
