"""ModelState and PoolState, with ModelMesh's field names."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

from modelmesh_healthd.state._codec import decode_fields

__all__ = ["ACTIVE", "STANDBY", "ModelState", "PoolState"]

ACTIVE: Literal["active"] = "active"
STANDBY: Literal["standby"] = "standby"


@dataclass(slots=True)
class ModelState:
    """Health and usage of one model, as ModelMesh's router keeps it."""

    status: str = ACTIVE
    """`active` (eligible for selection) or `standby` (deactivated)."""

    failure_count: int = 0
    """Request failures counted by the router."""

    error_rate: float = 0.0
    """Recent request error rate (0.0-1.0)."""

    cooldown_remaining: float = 0.0
    """Seconds until a cooled-down model may be tried again."""

    quota_used: int = 0
    tokens_used: int = 0
    cost_accumulated: float = 0.0

    latency_history: list[float] = field(default_factory=list)
    """Recent request latencies in seconds."""

    last_request: float | None = None
    last_failure: float | None = None

    deactivation_reason: str | None = None
    """Why the model is in standby (see `DeactivationReason`); None while active."""

    # --- additions of this daemon -----------------------------------------

    deactivated_at: float | None = None
    """Unix timestamp at which the model last went to standby."""

    degraded: bool = False
    """Its canary answers, but slowly (`state.latency`): still active, visible to routers."""

    degraded_since: float | None = None
    """Unix timestamp at which it became degraded; None while not degraded."""

    ttft_baseline: float | None = None
    """Exponential moving average of its canary's time to first token, in seconds."""

    ttft_samples: int = 0
    """Canary answers the baseline has seen."""

    latency_streak: int = 0
    """Canary answers in a row whose speed disagrees with `degraded`."""

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE

    def to_dict(self) -> dict[str, Any]:
        """Serialize to a JSON-ready dict."""
        out = {name: getattr(self, name) for name in _MODEL_FIELDS}
        out["latency_history"] = list(self.latency_history)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelState:
        """Deserialize from `to_dict()` output (or ModelMesh's camelCase variant).

        Raises:
            ValueError: A field holds a value of the wrong type, or the status is unknown.
        """
        model = decode_fields(cls, data, "model")
        if model.status not in (ACTIVE, STANDBY):
            raise ValueError(
                f"model field 'status' must be active or standby, got {model.status!r}"
            )
        return model


@dataclass(slots=True)
class PoolState:
    """Which of a pool's models are eligible for selection right now.

    A model is in exactly one of the two sets; the mesh keeps them disjoint.
    """

    active_models: set[str] = field(default_factory=set)
    standby_models: set[str] = field(default_factory=set)
    rotation_count: int = 0
    """Moves between the two sets since the pool was created."""
    last_rotation: float | None = None
    """Unix timestamp of the last move."""

    def to_dict(self) -> dict[str, Any]:
        """Serialize to a JSON-ready dict (model lists sorted, so equal pools serialize equally)."""
        return {
            "active_models": sorted(self.active_models),
            "standby_models": sorted(self.standby_models),
            "rotation_count": self.rotation_count,
            "last_rotation": self.last_rotation,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PoolState:
        """Deserialize from `to_dict()` output.

        Raises:
            ValueError: A field holds a value of the wrong type, or a model is in both sets.
        """
        pool = decode_fields(cls, data, "pool")
        both = pool.active_models & pool.standby_models
        if both:
            raise ValueError(f"pool lists {sorted(both)} as both active and standby")
        return pool


_MODEL_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ModelState))
