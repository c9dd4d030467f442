"""What a reload changes: the configuration a running daemon may take, and the fleet's diff.

Pure comparisons of the running configuration with a newly read one; the daemon applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from modelmesh_healthd.config import Config
from modelmesh_healthd.daemon.probe_setup import probe_target, timing_for
from modelmesh_healthd.daemon.timing import Timing
from modelmesh_healthd.state import Mesh

__all__ = ["FleetDiff", "Topology", "carried_over", "diff_fleet", "restart_required"]

Topology = tuple[Config, Mesh]
"""A configuration and the mesh built from it."""


def restart_required(running: Config, new: Config) -> list[str]:
    """Settings that differ but only take effect at the next start (logged, not applied)."""
    return [
        key
        for key, before, after in (
            ("storage", running.storage, new.storage),
            ("daemon.instance", running.daemon.instance, new.daemon.instance),
            ("daemon.vantage", running.daemon.vantage, new.daemon.vantage),
            ("daemon.event_loop", running.daemon.event_loop, new.daemon.event_loop),
            ("admin", running.admin, new.admin),
        )
        if before != after
    ]


def carried_over(running: Config, new: Config) -> Config:
    """`new`, keeping the running store and admin endpoint (they need a restart to change)."""
    return new.model_copy(update={"storage": running.storage, "admin": running.admin})


@dataclass(slots=True)
class FleetDiff:
    """How the probed providers change.

    Attributes:
        added: Newly probed providers and their schedules, in configuration order.
        removed: Providers no longer probed.
        retargeted: Providers whose probe now sends something else (URL, key, models, timeout,
            ...): probed at once, with their new schedules.
        kept: Every other probed provider, with its (possibly new) schedule.
    """

    added: dict[str, Timing] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    retargeted: dict[str, Timing] = field(default_factory=dict)
    kept: dict[str, Timing] = field(default_factory=dict)


def diff_fleet(
    running: Mapping[str, Timing], after: Topology, before: Topology | None = None
) -> FleetDiff:
    """Compare the probed providers with what `after` says to probe.

    Args:
        running: The providers probed now and their schedules.
        after: The configuration to apply.
        before: The configuration it replaces (None at start-up: nothing counts as retargeted).

    Returns:
        The diff.
    """
    config = after[0]
    enabled = [name for name, cfg in config.providers.items() if cfg.enabled and cfg.probed]
    keep = set(enabled)
    diff = FleetDiff(removed=[name for name in running if name not in keep])
    for name in enabled:
        timing = timing_for(config, name)
        was = running.get(name)
        if was is None:
            diff.added[name] = timing
        elif before is not None and _target(name, was, before) != _target(name, timing, after):
            diff.retargeted[name] = timing
        else:
            diff.kept[name] = timing
    return diff


def _target(name: str, timing: Timing, topology: Topology) -> object:
    config, mesh = topology
    return probe_target(
        config, name, models=mesh.provider_models.get(name, ()), timeout=timing.timeout
    )
