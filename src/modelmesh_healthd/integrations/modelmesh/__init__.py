"""ModelMesh Lite integration (optional extra `modelmesh`): the daemon's state inside a router.

* `attach(mesh_or_client, store=URL)`: the daemon's standbys and recoveries reach every pool, and
  (with `admin_url` and `reports_token`) the router's request outcomes reach the daemon.
* `StoreHealthMonitoring(store=URL)`: ModelMesh's `HealthMonitoring` interface, from the store.

Written against modelmesh-lite 0.1.1. See docs/modelmesh.md.
"""

from modelmesh_healthd.integrations.modelmesh.attach import Attachment, attach, standby_of
from modelmesh_healthd.integrations.modelmesh.feedback import (
    Feedback,
    Report,
    ReportSender,
    outcome_of_error,
)
from modelmesh_healthd.integrations.modelmesh.monitoring import StoreHealthMonitoring
from modelmesh_healthd.integrations.modelmesh.pools import PoolChange, PoolSync, modelmesh_reason

__all__ = [
    "Attachment",
    "Feedback",
    "PoolChange",
    "PoolSync",
    "Report",
    "ReportSender",
    "StoreHealthMonitoring",
    "attach",
    "modelmesh_reason",
    "outcome_of_error",
    "standby_of",
]
