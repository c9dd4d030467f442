"""The registry of provider kinds: pure specs that configuration, probes and the simulator read.

Nothing here does I/O or imports another layer: it is the bottom of the house, next to `state`.
"""

from modelmesh_healthd.kinds.registry import (
    CONNECTORS,
    KINDS,
    UNSUPPORTED,
    connector_kind,
    connector_url,
    kind_names,
    kind_spec,
)
from modelmesh_healthd.kinds.spec import ConnectorSpec, KindSpec, OptionBlock

__all__ = [
    "CONNECTORS",
    "KINDS",
    "UNSUPPORTED",
    "ConnectorSpec",
    "KindSpec",
    "OptionBlock",
    "connector_kind",
    "connector_url",
    "kind_names",
    "kind_spec",
]
