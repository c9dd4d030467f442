"""modelmesh-healthd: the health daemon for ModelMesh provider pools."""

from modelmesh_healthd.state import HealthPolicy, Outcome, ProviderState, SystemState

__all__ = ["HealthPolicy", "Outcome", "ProviderState", "SystemState", "__version__"]

__version__ = "0.1.0.dev0"
