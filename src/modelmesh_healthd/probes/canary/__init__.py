"""The canary: an optional, budgeted, real minimal completion per opted-in model.

Off by default and the only request of the daemon that costs tokens. `plan` builds the request
(sized per model family so reasoning cannot use up the allowance), `reading` reads the answer
(usage with reasoning tokens, errors inside HTTP 200 bodies, time to first token), `runner`
sends it under the hard daily budget per provider (`state.spend`). See docs/canary.md.
"""

from modelmesh_healthd.probes.canary.plan import (
    CANARY_KINDS,
    Allowance,
    CanaryRequest,
    Price,
    allowance_for,
    build_request,
    is_costly,
)
from modelmesh_healthd.probes.canary.reading import CanaryReading, Usage, read_answer
from modelmesh_healthd.probes.canary.runner import (
    CanaryModel,
    CanaryResult,
    ModelCanary,
    charge_state,
    run_canary,
)
from modelmesh_healthd.state.spend import Budget, DaySpend, day_of

__all__ = [
    "CANARY_KINDS",
    "Allowance",
    "Budget",
    "CanaryModel",
    "CanaryReading",
    "CanaryRequest",
    "CanaryResult",
    "DaySpend",
    "ModelCanary",
    "Price",
    "Usage",
    "allowance_for",
    "build_request",
    "charge_state",
    "day_of",
    "is_costly",
    "read_answer",
    "run_canary",
]
