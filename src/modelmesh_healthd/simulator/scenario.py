"""Scripted scenarios: a timeline of (seconds from start, provider, behaviour) steps.

A scenario file is YAML (or JSON, which is YAML)::

    providers:                 # optional; one provider of each kind when left out
      - {name: openai, kind: openai, api_key: sk-sim-openai-0000, models: [gpt-4o]}
    repeat_every: 60           # optional: replay the timeline every 60 s
    steps:
      - {at: 0,  provider: openai, behaviour: healthy}
      - {at: 10, provider: openai, behaviour: server_error}
      - {at: 25, provider: openai, behaviour: healthy, missing_models: [gpt-4o]}

A step's keys besides `at`, `provider` and `behaviour` are provider fields (`SETTABLE`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from modelmesh_healthd.simulator.behaviours import Behaviour, SimProvider

__all__ = ["Scenario", "ScenarioError", "ScenarioStep", "run_scenario"]


class ScenarioError(ValueError):
    """A scenario that cannot be played; the message names the step or key."""


@dataclass(frozen=True, slots=True)
class ScenarioStep:
    """One change at one moment.

    Attributes:
        at: Seconds from the scenario's start.
        provider: Provider name.
        behaviour: New behaviour, or None to change only fields.
        changes: Provider fields to set (see `server.SETTABLE`).
    """

    at: float
    provider: str
    behaviour: Behaviour | None = None
    changes: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


_PROVIDER_KEYS = frozenset(
    {
        "name",
        "kind",
        "api_key",
        "models",
        "missing_models",
        "behaviour",
        "retry_after",
        "drip_interval",
        "huge_bytes",
        "limit_remaining",
    }
)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A timeline of steps, and optionally the providers it plays on.

    Attributes:
        steps: Ordered by `at`.
        providers: Provider specs (the keys of `SimProvider`), or empty for the defaults.
        repeat_every: Replay the whole timeline every so many seconds; None plays it once.
    """

    steps: tuple[ScenarioStep, ...]
    providers: tuple[Mapping[str, Any], ...] = ()
    repeat_every: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(sorted(self.steps, key=lambda s: s.at)))
        if self.repeat_every is not None and self.steps and self.repeat_every <= self.steps[-1].at:
            raise ScenarioError("repeat_every must be longer than the last step's `at`")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Build a scenario from parsed YAML/JSON.

        Raises:
            ScenarioError: Naming the bad step or key.
        """
        if not isinstance(data, Mapping):
            raise ScenarioError("a scenario is a mapping with `steps`")
        unknown = set(data) - {"providers", "steps", "repeat_every"}
        if unknown:
            raise ScenarioError(f"unknown scenario keys: {', '.join(sorted(unknown))}")
        specs = data.get("providers") or []
        if not isinstance(specs, list):
            raise ScenarioError("providers: must be a list")
        for i, spec in enumerate(specs):
            if not isinstance(spec, Mapping) or "name" not in spec or "kind" not in spec:
                raise ScenarioError(f"providers[{i}]: needs `name` and `kind`")
            extra = set(spec) - _PROVIDER_KEYS
            if extra:
                raise ScenarioError(f"providers[{i}]: unknown keys {', '.join(sorted(extra))}")
        steps = []
        raw_steps = data.get("steps") or []
        if not isinstance(raw_steps, list):
            raise ScenarioError("steps: must be a list")
        for i, raw in enumerate(raw_steps):
            if not isinstance(raw, Mapping) or "at" not in raw or "provider" not in raw:
                raise ScenarioError(f"steps[{i}]: needs `at` and `provider`")
            rest = {k: v for k, v in raw.items() if k not in ("at", "provider", "behaviour")}
            try:
                at = float(raw["at"])
                behaviour = Behaviour(raw["behaviour"]) if raw.get("behaviour") else None
            except (TypeError, ValueError) as exc:
                raise ScenarioError(f"steps[{i}]: {exc}") from None
            if at < 0:
                raise ScenarioError(f"steps[{i}]: `at` must not be negative")
            steps.append(ScenarioStep(at, str(raw["provider"]), behaviour, MappingProxyType(rest)))
        repeat = data.get("repeat_every")
        return cls(
            tuple(steps),
            tuple(MappingProxyType(dict(s)) for s in specs),
            None if repeat is None else float(repeat),
        )

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Read a scenario file (YAML or JSON).

        Raises:
            ScenarioError: Unreadable file or bad content.
        """
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ScenarioError(f"{path}: {exc}") from None
        return cls.from_dict(data or {})

    def build_providers(self) -> list[SimProvider]:
        """Fresh providers from the scenario's specs.

        Raises:
            ScenarioError: A spec the provider type rejects.
        """
        out = []
        for i, spec in enumerate(self.providers):
            kw = dict(spec)
            try:
                if "models" in kw:
                    kw["models"] = tuple(kw["models"])
                if "missing_models" in kw:
                    kw["missing_models"] = frozenset(kw["missing_models"])
                if "behaviour" in kw:
                    kw["behaviour"] = Behaviour(kw["behaviour"])
                out.append(SimProvider(**kw))
            except (TypeError, ValueError) as exc:
                raise ScenarioError(f"providers[{i}]: {exc}") from None
        return out

    def check(self, providers: Mapping[str, SimProvider]) -> None:
        """Check that every step names a known provider.

        Raises:
            ScenarioError: Naming the first step that does not.
        """
        for i, step in enumerate(self.steps):
            if step.provider not in providers:
                raise ScenarioError(f"steps[{i}]: no provider {step.provider!r}")


async def run_scenario(scenario: Scenario, apply: Callable[[ScenarioStep], None]) -> None:
    """Play `scenario` against the event loop's clock, calling `apply` at each step's time.

    Drift-free: each step is due at start + at (+ k * repeat_every), however long `apply` takes.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    while True:
        for step in scenario.steps:
            delay = start + step.at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            apply(step)
        if scenario.repeat_every is None:
            return
        start += scenario.repeat_every
        delay = start - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
