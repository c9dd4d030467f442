"""Config: the whole validated, immutable configuration, and what the daemon derives from it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, PrivateAttr

from modelmesh_healthd.config.admin import AdminConfig
from modelmesh_healthd.config.maintenance import MaintenanceWindow
from modelmesh_healthd.config.models import (
    DaemonConfig,
    HealthConfig,
    HttpConfig,
    ModelConfig,
    PoolConfig,
    ProviderConfig,
    ScheduleConfig,
    StorageConfig,
)
from modelmesh_healthd.config.section import _Section
from modelmesh_healthd.state import HealthPolicy, Mesh

if TYPE_CHECKING:
    from modelmesh_healthd.config.modelmesh_read import ModelMeshReading
    from modelmesh_healthd.state.windows import Window

__all__ = ["Config"]


class Config(_Section):
    """modelmesh-healthd configuration (also accepts ModelMesh's own YAML shape)."""

    daemon: DaemonConfig = DaemonConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    health: HealthConfig = HealthConfig()
    http: HttpConfig = HttpConfig()
    storage: StorageConfig = StorageConfig()
    admin: AdminConfig = AdminConfig()
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    pools: dict[str, PoolConfig] = Field(default_factory=dict)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)

    _source: str | None = PrivateAttr(default=None)
    _modelmesh: ModelMeshReading | None = PrivateAttr(default=None)

    @property
    def source(self) -> str | None:
        """The file this configuration was read from, if any."""
        return self._source

    @property
    def modelmesh(self) -> ModelMeshReading | None:
        """What was used and ignored of a ModelMesh-shaped file (None for the daemon's own)."""
        return self._modelmesh

    def with_source(self, source: str | None) -> Config:
        """This configuration, saying it was read from `source` (a shallow copy: it is immutable).

        Args:
            source: The file it came from (None: not from a file).
        """
        copy = self.model_copy()
        copy._source = source
        return copy

    def notices(self) -> list[str]:
        """One line per provider that is accepted but not probed (kind `unsupported`), and one
        per deprecated key in use."""
        foreign = set(self._modelmesh.unknown_connectors) if self._modelmesh else set()
        deprecated = (
            ["admin.reports_token: deprecated: it is admin.token under its old name; rename it"]
            if self.admin.reports_token is not None
            else []
        )
        return deprecated + [
            f'providers["{pid}"]: unsupported: '
            + (
                "a connector modelmesh-lite 0.1.1 does not ship"
                if pid in foreign
                else "no free authenticated endpoint"
            )
            + ", so never probed and never put on standby by this daemon"
            for pid, cfg in self.providers.items()
            if not cfg.probed
        ]

    def windows(self) -> tuple[Window, ...]:
        """The scheduled maintenance windows, as the core uses them."""
        return tuple(w.window(i) for i, w in enumerate(self.maintenance))

    def policy(self) -> HealthPolicy:
        """The HealthPolicy of the `health:` section."""
        return self.health.policy()

    def schedule_for(self, provider: str) -> ScheduleConfig:
        """The global schedule with the provider's overrides applied."""
        return self.providers[provider].schedule.over(self.schedule)

    def upstream_name(self, model: str) -> str:
        """The provider's own id for `model`: its `name`, else the id after its first dot."""
        name = self.models[model].name
        if name:
            return name
        _, dot, rest = model.partition(".")
        return rest if dot and rest else model

    def provider_models(self, provider: str) -> list[str]:
        """Model ids served by `provider`, in configuration order."""
        return [m for m, cfg in self.models.items() if cfg.provider == provider]

    def pool_members(self, pool: str) -> list[str]:
        """Model ids in `pool`: listed models, all models of listed providers, capability match."""
        cfg = self.pools[pool]
        members = dict.fromkeys(cfg.models)
        if cfg.providers:  # one pass over the models, not one per provider: fleets are large
            served: dict[str, list[str]] = {p: [] for p in cfg.providers}
            for model, mcfg in self.models.items():
                if mcfg.provider in served:
                    served[mcfg.provider].append(model)
            for provider in cfg.providers:
                members.update(dict.fromkeys(served[provider]))
        if cfg.capability:
            for model, mcfg in self.models.items():
                if any(_capability_matches(c, cfg.capability) for c in mcfg.capabilities):
                    members[model] = None
        return list(members)

    def mesh(self) -> Mesh:
        """The topology: providers, models and pools; disabled models in manual standby."""
        disabled = [
            m
            for m, cfg in self.models.items()
            if not cfg.enabled or not self.providers[cfg.provider].enabled
        ]
        return Mesh.build(
            providers=self.providers,
            models={m: cfg.provider for m, cfg in self.models.items()},
            pools={p: self.pool_members(p) for p in self.pools},
            disabled=disabled,
        )


def _capability_matches(model_capability: str, wanted: str) -> bool:
    # ModelMesh capabilities are dotted paths; a pool may name the full path, an ancestor of it,
    # or just its last segment (ModelMesh's leaf alias: "chat-completion").
    if model_capability == wanted or model_capability.startswith(wanted + "."):
        return True
    return "." not in wanted and model_capability.rsplit(".", 1)[-1] == wanted
