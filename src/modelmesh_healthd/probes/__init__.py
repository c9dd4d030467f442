"""Provider probes: one small interface per provider kind, a pure classifier, a shared client.

Typical use by the daemon::

    async with build_client(ClientOptions(transport="httptools", concurrency=64)) as client:
        result = await probe(client, target)      # ProbeResult, a state.ProbeReport

`probe` picks the kind's probe from `PROBES` by `target.kind` (one module per kind under
`probes/kinds/`, resolved once from the kinds registry; the classifier is `probes/classifier/`).
A probe never raises for what a provider or the network does; its result says what happened
(see `state.Outcome`).
"""

from modelmesh_healthd.probes.classifier import (
    Dialect,
    ErrorInfo,
    Finding,
    JsonPathError,
    Reply,
    classify_exception,
    error_info,
    judge_error,
    judge_http,
    parse_retry_after,
    rate_limit_headroom,
)
from modelmesh_healthd.probes.client import TRANSPORTS, ClientOptions, Transport, build_client
from modelmesh_healthd.probes.engine import Step, run_steps
from modelmesh_healthd.probes.kinds.anthropic import ANTHROPIC_VERSION
from modelmesh_healthd.probes.registry import (
    PROBES,
    PlannedProbe,
    Probe,
    UnknownKindError,
    dialect_of,
    get_probe,
    plan,
    probe,
    validate_target,
)
from modelmesh_healthd.probes.result import PhaseTimings, ProbeResult
from modelmesh_healthd.probes.target import (
    DEFAULT_MAX_BODY_BYTES,
    AzureOptions,
    BodyCondition,
    Comparison,
    HeaderCondition,
    HttpOptions,
    LocalOptions,
    ModelLookup,
    ProbeTarget,
)
from modelmesh_healthd.state.events import LogEventSpec

LOG_EVENTS: tuple[LogEventSpec, ...] = ()
"""The probes log nothing themselves: results are returned, and the daemon logs them
(`probe.completed`)."""

__all__ = [
    "ANTHROPIC_VERSION",
    "DEFAULT_MAX_BODY_BYTES",
    "LOG_EVENTS",
    "PROBES",
    "TRANSPORTS",
    "AzureOptions",
    "BodyCondition",
    "ClientOptions",
    "Comparison",
    "Dialect",
    "ErrorInfo",
    "Finding",
    "HeaderCondition",
    "HttpOptions",
    "JsonPathError",
    "LocalOptions",
    "ModelLookup",
    "PhaseTimings",
    "PlannedProbe",
    "Probe",
    "ProbeResult",
    "ProbeTarget",
    "Reply",
    "Step",
    "Transport",
    "UnknownKindError",
    "build_client",
    "classify_exception",
    "dialect_of",
    "error_info",
    "get_probe",
    "judge_error",
    "judge_http",
    "parse_retry_after",
    "plan",
    "probe",
    "rate_limit_headroom",
    "run_steps",
    "validate_target",
]
