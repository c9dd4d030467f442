"""The pure health core: state, policy, topology and the transitions between states.

Nothing in this package does I/O or reads the clock (time is always a `now` parameter), with one
documented exception: the seed's two-argument `ProviderState.record_probe(success, latency)`,
which has no `now` and so reads the wall clock itself.
"""

from modelmesh_healthd.state.events import (
    STATE_EVENTS,
    Event,
    LogEventSpec,
    ModelAdded,
    ModelDeactivated,
    ModelReactivated,
    ModelRemoved,
    PoolEmpty,
    PoolRestored,
    ProbeCompleted,
    ProviderAdded,
    ProviderDegraded,
    ProviderDown,
    ProviderReasonChanged,
    ProviderRecovered,
    ProviderRemoved,
    ProviderUp,
)
from modelmesh_healthd.state.latency import (
    LatencySource,
    LatencyVerdict,
    judge_latency,
    latency_step,
)
from modelmesh_healthd.state.mesh import Mesh, MeshError
from modelmesh_healthd.state.model import ACTIVE, STANDBY, ModelState, PoolState
from modelmesh_healthd.state.outcome import PROVIDER_REASONS, DeactivationReason, Effect, Outcome
from modelmesh_healthd.state.policy import DEFAULT_POLICY, HealthPolicy, PolicyError
from modelmesh_healthd.state.provider import ProviderState
from modelmesh_healthd.state.system import (
    SCHEMA_VERSION,
    Snapshot,
    SnapshotError,
    SystemState,
    canonical_json,
    checksum_of,
)
from modelmesh_healthd.state.transition import (
    Observation,
    Verdict,
    apply_probe,
    initial_state,
    reconcile,
)

__all__ = [
    "ACTIVE",
    "DEFAULT_POLICY",
    "PROVIDER_REASONS",
    "SCHEMA_VERSION",
    "STANDBY",
    "STATE_EVENTS",
    "DeactivationReason",
    "Effect",
    "Event",
    "HealthPolicy",
    "LatencySource",
    "LatencyVerdict",
    "LogEventSpec",
    "Mesh",
    "MeshError",
    "ModelAdded",
    "ModelDeactivated",
    "ModelReactivated",
    "ModelRemoved",
    "ModelState",
    "Observation",
    "Outcome",
    "PolicyError",
    "PoolEmpty",
    "PoolRestored",
    "PoolState",
    "ProbeCompleted",
    "ProviderAdded",
    "ProviderDegraded",
    "ProviderDown",
    "ProviderReasonChanged",
    "ProviderRecovered",
    "ProviderRemoved",
    "ProviderState",
    "ProviderUp",
    "Snapshot",
    "SnapshotError",
    "SystemState",
    "Verdict",
    "apply_probe",
    "canonical_json",
    "checksum_of",
    "initial_state",
    "judge_latency",
    "latency_step",
    "reconcile",
]
