"""SystemState (everything the daemon knows) and the versioned snapshot envelope around it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from modelmesh_healthd.state.model import ModelState, PoolState
from modelmesh_healthd.state.provider import ProviderState

__all__ = [
    "SCHEMA_VERSION",
    "Snapshot",
    "SnapshotError",
    "SystemState",
    "canonical_json",
    "checksum_of",
]

SCHEMA_VERSION = 1
"""Version of the snapshot layout written by this code. Older versions are migrated on read.

Version 0 is ModelMesh's own state file: the bare state dict with no envelope (and so no
checksum), possibly with the TypeScript variant's camelCase keys.
"""

_T = TypeVar("_T")


@dataclass(slots=True)
class SystemState:
    """All models, providers and pools, keyed by their configured ids."""

    models: dict[str, ModelState] = field(default_factory=dict)
    providers: dict[str, ProviderState] = field(default_factory=dict)
    pools: dict[str, PoolState] = field(default_factory=dict)
    timestamp: float | None = None
    """Unix timestamp of the last change."""

    def to_dict(self) -> dict[str, Any]:
        """Serialize to a JSON-ready dict."""
        return {
            "models": {k: v.to_dict() for k, v in self.models.items()},
            "providers": {k: v.to_dict() for k, v in self.providers.items()},
            "pools": {k: v.to_dict() for k, v in self.pools.items()},
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SystemState:
        """Deserialize from `to_dict()` output.

        Raises:
            ValueError: Any part does not parse; the message names the entry.
        """
        if not isinstance(data, dict):
            raise ValueError(f"state must be an object, got {type(data).__name__}")
        timestamp = data.get("timestamp")
        if timestamp is not None and (
            isinstance(timestamp, bool) or not isinstance(timestamp, int | float)
        ):
            raise ValueError(f"state timestamp must be a number, got {timestamp!r}")
        return cls(
            models=_section(data, "models", ModelState.from_dict),
            providers=_section(data, "providers", ProviderState.from_dict),
            pools=_section(data, "pools", PoolState.from_dict),
            timestamp=None if timestamp is None else float(timestamp),
        )


def _section(
    data: dict[str, Any], key: str, parse: Callable[[dict[str, Any]], _T]
) -> dict[str, _T]:
    raw = data.get(key, {})
    if not isinstance(raw, dict):
        raise ValueError(f"state {key} must be an object, got {type(raw).__name__}")
    out: dict[str, _T] = {}
    for name, entry in raw.items():
        try:
            out[name] = parse(entry)
        except ValueError as exc:
            raise ValueError(f"{key}[{name!r}]: {exc}") from None
    return out


def canonical_json(value: Any) -> bytes:
    """The one byte form used for checksums: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def checksum_of(value: Any) -> str:
    """`sha256:<hex>` of the canonical JSON of `value`."""
    return "sha256:" + hashlib.sha256(canonical_json(value)).hexdigest()


class SnapshotError(ValueError):
    """A snapshot that must not be loaded: unknown version, bad checksum, unparsable content."""


Migration = Callable[[dict[str, Any]], dict[str, Any]]

MIGRATIONS: dict[int, Migration] = {}
"""`MIGRATIONS[v]` turns a version-`v` state dict into a version `v + 1` one.

Row stores migrate one provider row at a time (`{"providers": {one}, "models": {its models},
"pools": {}}`) and the pools apart, so a migration must change providers and models one by one,
never from what other providers or the pools hold."""


_POOL_CAMEL = {
    "activeModels": "active_models",
    "standbyModels": "standby_models",
    "rotationCount": "rotation_count",
    "lastRotation": "last_rotation",
}


def _v0_to_v1(state: dict[str, Any]) -> dict[str, Any]:
    # Field decoding accepts camelCase for models and providers; pools' keys are renamed here.
    pools = state.get("pools")
    if not isinstance(pools, dict):
        return state
    renamed: dict[str, Any] = {}
    for name, pool in pools.items():
        renamed[name] = (
            {_POOL_CAMEL.get(k, k): v for k, v in pool.items()} if isinstance(pool, dict) else pool
        )
    return {**state, "pools": renamed}


MIGRATIONS[0] = _v0_to_v1


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A SystemState with the envelope that makes it safe to persist and share.

    Attributes:
        state: The state itself.
        written_at: Unix timestamp of the write.
        writer_id: Which daemon wrote it (host, pid, instance name).
        epoch: Increases with every write by the same store; a reader can tell new from old.
        schema_version: Layout version of `state`.
    """

    state: SystemState
    written_at: float
    writer_id: str
    epoch: int
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The envelope and the state, with a checksum over the state."""
        state = self.state.to_dict()
        return {
            "schema_version": self.schema_version,
            "written_at": self.written_at,
            "writer_id": self.writer_id,
            "epoch": self.epoch,
            "checksum": checksum_of(state),
            "state": state,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Snapshot:
        """Verify and load an envelope; migrate an older schema version.

        Raises:
            SnapshotError: Not an envelope, a version newer than this code knows, a checksum
                mismatch, or a state that does not parse.
        """
        if not isinstance(data, dict):
            raise SnapshotError(f"snapshot must be an object, got {type(data).__name__}")
        if "schema_version" not in data and ("providers" in data or "models" in data):
            return cls._from_modelmesh(data)
        for key in ("schema_version", "written_at", "writer_id", "epoch", "checksum", "state"):
            if key not in data:
                raise SnapshotError(f"snapshot has no {key!r}")
        version = data["schema_version"]
        if isinstance(version, bool) or not isinstance(version, int):
            raise SnapshotError(f"schema_version must be an integer, got {version!r}")
        if version > SCHEMA_VERSION or version < 0:
            raise SnapshotError(
                f"unknown schema version {version} (this daemon reads up to {SCHEMA_VERSION})"
            )
        state = data["state"]
        if checksum_of(state) != data["checksum"]:
            raise SnapshotError("checksum mismatch: the snapshot was altered or torn")
        written_at, epoch, writer_id = data["written_at"], data["epoch"], data["writer_id"]
        if isinstance(written_at, bool) or not isinstance(written_at, int | float):
            raise SnapshotError(f"written_at must be a number, got {written_at!r}")
        if isinstance(epoch, bool) or not isinstance(epoch, int):
            raise SnapshotError(f"epoch must be an integer, got {epoch!r}")
        if not isinstance(writer_id, str):
            raise SnapshotError(f"writer_id must be a string, got {writer_id!r}")
        state = migrate(state, version)
        try:
            system = SystemState.from_dict(state)
        except ValueError as exc:
            raise SnapshotError(str(exc)) from None
        return cls(state=system, written_at=float(written_at), writer_id=writer_id, epoch=epoch)

    @classmethod
    def _from_modelmesh(cls, data: dict[str, Any]) -> Snapshot:
        """Version 0: a bare state dict as ModelMesh itself writes it."""
        try:
            system = SystemState.from_dict(migrate(data, 0))
        except ValueError as exc:
            raise SnapshotError(str(exc)) from None
        return cls(
            state=system,
            written_at=system.timestamp or 0.0,
            writer_id="modelmesh",
            epoch=0,
            schema_version=SCHEMA_VERSION,
        )


def migrate(state: Any, version: int) -> Any:
    """Bring a state dict of `version` up to SCHEMA_VERSION."""
    while version < SCHEMA_VERSION:
        state = MIGRATIONS[version](state)
        version += 1
    return state
