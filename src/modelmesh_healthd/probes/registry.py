"""The probes by kind name: each kind's module resolved once from the one kinds registry.

A kind is a plan function `ProbeTarget -> tuple[Step, ...]` (which URLs, which headers, which
judge) and the provider's error `Dialect`, wrapped in a `PlannedProbe`, so every probe has the
same signature and is chosen by name. The requests follow PROVIDERS.md: they cost no tokens and
prove the credentials. Kinds that are not probed (`unsupported`) have no probe.
"""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType, ModuleType
from typing import Protocol

import httpx

from modelmesh_healthd.kinds import KINDS
from modelmesh_healthd.probes.classifier import Dialect, parse_json_path
from modelmesh_healthd.probes.engine import Step, run_steps
from modelmesh_healthd.probes.result import ProbeResult
from modelmesh_healthd.probes.target import HttpOptions, ProbeTarget

__all__ = [
    "PROBES",
    "PlannedProbe",
    "Probe",
    "UnknownKindError",
    "dialect_of",
    "get_probe",
    "plan",
    "probe",
    "validate_target",
]

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token


class Probe(Protocol):
    """The one interface of every probe kind."""

    async def __call__(self, client: httpx.AsyncClient, target: ProbeTarget) -> ProbeResult:
        """Probe `target` once through `client`; never raises for provider or network faults."""
        ...


class UnknownKindError(ValueError):
    """No probe is registered under that kind name."""


class PlannedProbe:
    """A probe kind defined by its plan: the requests to send and how to judge them."""

    __slots__ = ("dialect", "kind", "plan", "wall_clock")

    def __init__(
        self,
        kind: str,
        plan: Callable[[ProbeTarget], tuple[Step, ...]],
        dialect: Dialect,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.kind = kind
        self.plan = plan
        self.dialect = dialect
        self.wall_clock = wall_clock

    async def __call__(self, client: httpx.AsyncClient, target: ProbeTarget) -> ProbeResult:
        """Probe `target` once.

        Args:
            client: The shared client from `build_client`.
            target: What to probe; its `kind` should be this probe's kind.

        Returns:
            The classified result.
        """
        return await run_steps(
            client, target, self.plan(target), self.dialect, wall_clock=self.wall_clock
        )

    def __repr__(self) -> str:
        return f"PlannedProbe({self.kind!r})"


def _resolve(module: str) -> ModuleType:
    return importlib.import_module(f"modelmesh_healthd.probes.kinds.{module}")


_MODULES: Mapping[str, ModuleType] = MappingProxyType(
    {name: _resolve(spec.module) for name, spec in KINDS.items() if spec.probed}
)

_OPTION_TYPES: Mapping[str, type] = MappingProxyType(
    {name: m.OPTIONS for name, m in _MODULES.items() if getattr(m, "OPTIONS", None) is not None}
)

_PLANNED: Mapping[str, PlannedProbe] = MappingProxyType(
    {name: PlannedProbe(name, m.plan, m.DIALECT) for name, m in _MODULES.items()}
)

PROBES: Mapping[str, Probe] = _PLANNED
"""Every probed kind's probe by name."""


def get_probe(kind: str) -> Probe:
    """The probe registered under `kind`.

    Raises:
        UnknownKindError: No such kind (the message lists the known ones).
    """
    try:
        return PROBES[kind]
    except KeyError:
        known = ", ".join(PROBES)
        if kind in KINDS:
            raise UnknownKindError(f"kind {kind!r} is not probed") from None
        raise UnknownKindError(f"unknown probe kind {kind!r}; known kinds: {known}") from None


def dialect_of(kind: str) -> Dialect:
    """The error dialect of probe kind `kind` (for judging an answer outside a probe).

    Raises:
        UnknownKindError: No such probed kind.
    """
    get_probe(kind)
    return _PLANNED[kind].dialect


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests a probe of `target` would send (for `check --dry-run` and tests).

    Raises:
        UnknownKindError: `target.kind` is not registered.
    """
    get_probe(target.kind)
    return _PLANNED[target.kind].plan(target)


def validate_target(target: ProbeTarget) -> None:
    """Check what configuration loading can check about a target, once, before probing.

    Raises:
        UnknownKindError: Unknown kind.
        ValueError: Options of another kind, a bad URL, JSON path or regular expression.
    """
    get_probe(target.kind)
    expected = _OPTION_TYPES.get(target.kind)
    if target.options is not None and not isinstance(target.options, expected or ()):
        wanted = expected.__name__ if expected else "no options"
        raise ValueError(
            f"provider {target.name!r}: kind {target.kind!r} takes {wanted}, "
            f"got {type(target.options).__name__}"
        )
    try:
        url = httpx.URL(target.base_url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"provider {target.name!r}: bad base_url: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"provider {target.name!r}: base_url must be an http(s) URL with a host")
    headers = dict(target.headers)
    if isinstance(target.options, HttpOptions):
        headers.update(target.options.headers)
    for name, value in headers.items():
        # The value is secret: say which header is wrong, never what it holds.
        if (
            not _HEADER_NAME.fullmatch(name)
            or not value.isascii()
            or any(c in value for c in "\r\n\0")
        ):
            raise ValueError(
                f"provider {target.name!r}: header {name[:40]!r} has a bad name or value"
            )
    if isinstance(target.options, HttpOptions):
        for cond in target.options.body:
            if cond.json_path is not None:
                parse_json_path(cond.json_path)
            if cond.regex is not None:
                try:
                    re.compile(cond.regex)
                except re.error as exc:
                    raise ValueError(f"provider {target.name!r}: bad regex: {exc}") from None
    plan(target)


async def probe(client: httpx.AsyncClient, target: ProbeTarget) -> ProbeResult:
    """Probe `target` once with the probe its `kind` names.

    Args:
        client: The shared client from `build_client`.
        target: What to probe.

    Returns:
        The classified result; never raises for provider or network faults.

    Raises:
        UnknownKindError: `target.kind` is not registered (a configuration error).
    """
    return await get_probe(target.kind)(client, target)
