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
    ModelDegraded,
    ModelReactivated,
    ModelRecovered,
    ModelRemoved,
    NetworkRestored,
    NetworkSuspect,
    PoolEmpty,
    PoolRestored,
    ProbeCompleted,
    ProbeHeld,
    ProviderAdded,
    ProviderDegraded,
    ProviderDown,
    ProviderReasonChanged,
    ProviderRecovered,
    ProviderRemoved,
    ProviderUp,
    QuorumPending,
)
from modelmesh_healthd.state.guard import NETWORK_OUTCOMES, ConnectivityGuard, GuardRuling
from modelmesh_healthd.state.latency import (
    LatencySource,
    LatencyVerdict,
    judge_latency,
    latency_step,
    model_latency_step,
)
from modelmesh_healthd.state.mesh import Mesh, MeshError
from modelmesh_healthd.state.model import ACTIVE, STANDBY, ModelState, PoolState
from modelmesh_healthd.state.outcome import PROVIDER_REASONS, DeactivationReason, Effect, Outcome
from modelmesh_healthd.state.phase import Phase, phase_of
from modelmesh_healthd.state.policy import DEFAULT_POLICY, HealthPolicy, PolicyError
from modelmesh_healthd.state.provider import ProbeChange, ProviderState, plan_probe
from modelmesh_healthd.state.quorum import Quorum, QuorumRuling, Vote, quorum_ruling
from modelmesh_healthd.state.step import HealthCore, Step, observe, observe_vote
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
    ProbeReport,
    apply_probe,
    initial_state,
    reconcile,
)

__all__ = [
    "ACTIVE",
    "DEFAULT_POLICY",
    "NETWORK_OUTCOMES",
    "PROVIDER_REASONS",
    "SCHEMA_VERSION",
    "STANDBY",
    "STATE_EVENTS",
    "ConnectivityGuard",
    "DeactivationReason",
    "Effect",
    "Event",
    "GuardRuling",
    "HealthCore",
    "HealthPolicy",
    "LatencySource",
    "LatencyVerdict",
    "LogEventSpec",
    "Mesh",
    "MeshError",
    "ModelAdded",
    "ModelDeactivated",
    "ModelDegraded",
    "ModelReactivated",
    "ModelRecovered",
    "ModelRemoved",
    "ModelState",
    "NetworkRestored",
    "NetworkSuspect",
    "Observation",
    "Outcome",
    "Phase",
    "PolicyError",
    "PoolEmpty",
    "PoolRestored",
    "PoolState",
    "ProbeChange",
    "ProbeCompleted",
    "ProbeHeld",
    "ProbeReport",
    "ProviderAdded",
    "ProviderDegraded",
    "ProviderDown",
    "ProviderReasonChanged",
    "ProviderRecovered",
    "ProviderRemoved",
    "ProviderState",
    "ProviderUp",
    "Quorum",
    "QuorumPending",
    "QuorumRuling",
    "Snapshot",
    "SnapshotError",
    "Step",
    "SystemState",
    "Vote",
    "apply_probe",
    "canonical_json",
    "checksum_of",
    "initial_state",
    "judge_latency",
    "latency_step",
    "model_latency_step",
    "observe",
    "observe_vote",
    "phase_of",
    "plan_probe",
    "quorum_ruling",
    "reconcile",
]
