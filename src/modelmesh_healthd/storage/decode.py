"""Reading a row store back: verify every row, set the bad ones apart, keep the rest consistent."""

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
from modelmesh_healthd.storage.base import Envelope
from modelmesh_healthd.storage.rows import (
    KINDS,
    MEMBERS,
    META,
    POOL,
    PROVIDER,
    ROW_LAYOUT,
    row_checksum,
)

__all__ = ["Decoded", "decode_store"]


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


def _verify_rows(
    rows: list[tuple[str, str, str, str]],
) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], str]]:
    """Checksum and JSON-parse every row: (kind -> key -> value, (kind, key) -> why bad)."""
    bad: dict[tuple[str, str], str] = {}
    parsed: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
    for kind, key, data, checksum in rows:
        if kind not in parsed:
            bad[(kind, key)] = f"unknown row kind {kind!r}"
        elif row_checksum(kind, key, data) != checksum:
            bad[(kind, key)] = "checksum mismatch: altered or torn"
        else:
            try:
                parsed[kind][key] = json.loads(data)
            except ValueError as exc:
                bad[(kind, key)] = f"not JSON: {exc}"
    return parsed, bad


def _split_groups(
    groups: dict[str, Any], bad: dict[tuple[str, str], str]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Provider rows -> (providers, models, model -> owning provider)."""
    providers: dict[str, Any] = {}
    models: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for provider, value in groups.items():
        inner = value.get("models") if isinstance(value, dict) else None
        head = value.get("provider") if isinstance(value, dict) else None
        if not isinstance(inner, dict) or not isinstance(head, dict):
            bad[(PROVIDER, provider)] = "provider row must hold 'provider' and 'models' objects"
            continue
        twice = sorted(m for m in inner if m in owner)
        if twice:
            bad[(PROVIDER, provider)] = f"models {twice} are also in another provider row"
            continue
        providers[provider] = head
        for model_id, model in inner.items():
            models[model_id] = model
            owner[model_id] = provider
    return providers, models, owner


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

    parsed, bad = _verify_rows(rows)
    providers, models, owner = _split_groups(parsed[PROVIDER], bad)
    state_dict = migrate(
        {"providers": providers, "models": models, "pools": parsed[POOL]},
        envelope.schema_version,
    )
    state = SystemState(timestamp=envelope.timestamp)
    _parse_groups(state, state_dict, owner, bad)
    _parse_pools(state, state_dict["pools"], parsed[MEMBERS], bad)
    snapshot = Snapshot(
        state=state,
        written_at=envelope.written_at,
        writer_id=envelope.writer_id,
        epoch=envelope.epoch,
    )
    bad_rows = [(kind, key, reason) for (kind, key), reason in bad.items()]
    return Decoded(snapshot, bad_rows=bad_rows, epoch=envelope.epoch)


def _parse_groups(
    state: SystemState,
    state_dict: dict[str, Any],
    owner: dict[str, str],
    bad: dict[tuple[str, str], str],
) -> None:
    """Providers and models into `state`; a group with any bad part is left out whole."""
    for provider, value in state_dict["providers"].items():
        try:
            state.providers[provider] = ProviderState.from_dict(value)
        except ValueError as exc:
            bad[(PROVIDER, provider)] = f"provider: {exc}"
    for model_id, value in state_dict["models"].items():
        try:
            state.models[model_id] = ModelState.from_dict(value)
        except ValueError as exc:
            bad.setdefault((PROVIDER, owner[model_id]), f"model {model_id!r}: {exc}")
    for kind, provider in list(bad):
        if kind == PROVIDER:
            state.providers.pop(provider, None)
            for model_id in [m for m, p in owner.items() if p == provider]:
                state.models.pop(model_id, None)


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
