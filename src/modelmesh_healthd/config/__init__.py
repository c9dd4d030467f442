"""Configuration: one validated, immutable Config from YAML (ours or ModelMesh's shape).

`load_config(path)` reads a file, resolves `${ENV}`, `${ENV:-default}` and `${file:/path}`
references, accepts ModelMesh's provider/model/pool shape, rejects unknown keys and dangling
references, and raises `ConfigError` with one line per problem (file:line: key.path: message),
every problem in one pass. Hostile files are bounded (size, aliases, nesting, secret files,
time: `config/limits.py`); `load_config_in_thread` is the reload's way in.
"""

from typing import TYPE_CHECKING

from modelmesh_healthd._lazy import lazy_exports

if TYPE_CHECKING:
    from modelmesh_healthd.config.admin import AdminConfig
    from modelmesh_healthd.config.errors import ConfigError, ConfigIssue
    from modelmesh_healthd.config.loader import load_config, load_config_in_thread, load_config_text
    from modelmesh_healthd.config.models import (
        DEFAULT_BASE_URLS,
        KINDS,
        DaemonConfig,
        HealthConfig,
        HttpCheckConfig,
        HttpConfig,
        ModelConfig,
        PoolConfig,
        ProviderConfig,
        ScheduleConfig,
        StorageConfig,
    )
    from modelmesh_healthd.config.root import Config
    from modelmesh_healthd.config.types import parse_duration, parse_size

__all__ = [
    "DEFAULT_BASE_URLS",
    "KINDS",
    "AdminConfig",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "DaemonConfig",
    "HealthConfig",
    "HttpCheckConfig",
    "HttpConfig",
    "ModelConfig",
    "PoolConfig",
    "ProviderConfig",
    "ScheduleConfig",
    "StorageConfig",
    "load_config",
    "load_config_in_thread",
    "load_config_text",
    "parse_duration",
    "parse_size",
]

# Each name's module is imported on first use (PEP 562): importing one module of this package
# runs this file first, and should not cost every other module's import.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "admin": ("AdminConfig",),
        "errors": ("ConfigError", "ConfigIssue"),
        "loader": ("load_config", "load_config_in_thread", "load_config_text"),
        "models": (
            "DEFAULT_BASE_URLS",
            "KINDS",
            "DaemonConfig",
            "HealthConfig",
            "HttpCheckConfig",
            "HttpConfig",
            "ModelConfig",
            "PoolConfig",
            "ProviderConfig",
            "ScheduleConfig",
            "StorageConfig",
        ),
        "root": ("Config",),
        "types": ("parse_duration", "parse_size"),
    },
)
