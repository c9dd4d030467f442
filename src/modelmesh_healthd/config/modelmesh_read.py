"""Reading ModelMesh's own YAML, unchanged, into this daemon's configuration.

A ModelMesh file keys providers by connector id (`openai.llm.v1:`), with or without
`connector:` and a `config:` block; it resolves `${secrets:NAME}` through its `secrets:` store;
its pools select models by capability; and it carries much that only ModelMesh's router uses.
`read_modelmesh` rewrites such a file into the daemon's own shape:

- every key in `modelmesh_keys.MM_KEYS` is accepted: used as the table says, or ignored and
  reported in the `ModelMeshReading`; a key in neither that table nor the daemon's own schema
  is an error naming the closest known key;
- pools get exactly the members ModelMesh gives them (`modelmesh_pools`), written out as
  explicit model lists;
- `discovery.health` sets the probe schedule and the health policy's reaction speed
  (`modelmesh_health`);
- `MODELMESH_HEALTHD_BASE_URL_<PROVIDER>` in the environment overrides a provider's
  `base_url` without touching the file (to point a real file at a local server).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelmesh_healthd.config.errors import ConfigIssue, describe_type, did_you_mean, format_path
from modelmesh_healthd.config.modelmesh_health import health_settings
from modelmesh_healthd.config.modelmesh_keys import OPEN, children_of, lookup
from modelmesh_healthd.config.modelmesh_pools import PoolSpec, pool_members
from modelmesh_healthd.config.models import ModelConfig, PoolConfig, ProviderConfig
from modelmesh_healthd.config.secrets_stores import DEFAULT_STORE, store_name
from modelmesh_healthd.kinds import CONNECTORS, UNSUPPORTED, connector_kind, connector_url

__all__ = [
    "BASE_URL_ENV_PREFIX",
    "ModelMeshRead",
    "ModelMeshReading",
    "is_modelmesh",
    "read_modelmesh",
]

KeyPath = tuple[str | int, ...]

BASE_URL_ENV_PREFIX = "MODELMESH_HEALTHD_BASE_URL_"
"""`MODELMESH_HEALTHD_BASE_URL_OPENAI_LLM_V1=http://127.0.0.1:8000` overrides the `base_url`
of provider `openai.llm.v1` (the id upper-cased, every other character than A-Z0-9 as `_`)."""

_OUR_TOP = ("daemon", "schedule", "health", "http", "admin")
_MM_ONLY_TOP = ("secrets", "observability", "discovery", "connectors", "proxy")
_CONFIG_URL_KEYS = ("base_url", "endpoint", "api_base", "host", "url")


def _fields(entity: Any) -> tuple[str, ...]:
    fields = getattr(entity, "__pydantic_fields__", None) or getattr(entity, "model_fields", {})
    return tuple(fields)


_EXAMPLES = 3
"""Ignored keys kept per pattern, as examples for `validate --show`."""

_PROVIDER_OURS = _fields(ProviderConfig)
_MODEL_OURS = _fields(ModelConfig)
_POOL_OURS = _fields(PoolConfig)


@dataclass(frozen=True, slots=True)
class ModelMeshReading:
    """What the loader made of a ModelMesh file, for `validate` to tell.

    Attributes:
        ignored: (key path, why) of the ModelMesh-only keys the file holds: the first few of
            each pattern (a fleet's file need not be kept key by key for the daemon's life).
        mapped: (key path, the daemon setting it became) of every key used beyond the obvious.
        empty_pools: Pools that hold no model in ModelMesh either: nothing to keep true.
        secret_store: The store `${secrets:NAME}` was resolved from.
        unknown_connectors: Providers whose connector modelmesh-lite 0.1.1 does not ship
            (kind `unsupported`: never probed).
        ignored_keys: (pattern, how many) of the ignored keys, e.g. `providers.*.budget`.
    """

    ignored: tuple[tuple[str, str], ...] = ()
    mapped: tuple[tuple[str, str], ...] = ()
    empty_pools: tuple[str, ...] = ()
    secret_store: str = DEFAULT_STORE
    unknown_connectors: tuple[str, ...] = ()
    ignored_keys: tuple[tuple[str, int], ...] = ()

    def summary(self) -> list[str]:
        """One or two lines for `validate`."""
        lines = [f"read as a ModelMesh file (secrets from {self.secret_store})"]
        if self.ignored_keys:
            total = sum(count for _, count in self.ignored_keys)
            names = ", ".join(pattern for pattern, _ in self.ignored_keys)
            lines.append(
                f"{total} ModelMesh-only settings ignored ({names}): `validate --show` lists them"
            )
        if self.empty_pools:
            empty = ", ".join(self.empty_pools)
            lines.append(f"pools with no model in ModelMesh either, not tracked: {empty}")
        return lines

    def details(self) -> list[str]:
        """Every used-and-mapped and every ignored key, one line each."""
        lines = [f"  {path} -> {what}" for path, what in self.mapped]
        lines += [f"  {path}: ignored ({why})" for path, why in self.ignored]
        lines += [
            f"  ... and {count - _EXAMPLES} more {pattern}"
            for pattern, count in self.ignored_keys
            if count > _EXAMPLES
        ]
        return lines


@dataclass
class _Reading:
    env: Mapping[str, str]
    issues: list[ConfigIssue] = field(default_factory=list)
    origin: dict[KeyPath, KeyPath] = field(default_factory=dict)
    ignored: list[tuple[KeyPath, str]] = field(default_factory=list)
    mapped: list[tuple[str, str]] = field(default_factory=list)
    unknown_connectors: list[str] = field(default_factory=list)

    def issue(self, path: KeyPath, message: str) -> None:
        self.issues.append(ConfigIssue(path, message))

    def unknown(self, path: KeyPath, key: str, choices: Iterable[str]) -> None:
        self.issue((*path, key), "unknown key" + did_you_mean(key, choices))

    def walk(self, value: Any, path: KeyPath, pattern: str, *, recorded: bool = False) -> None:
        """Check a documented block for spelling; record its outermost ignored keys."""
        entry = lookup(pattern)
        if entry is not None and entry.why is not None and not recorded:
            self.ignored.append((path, entry.why))
            recorded = True
        known = children_of(pattern)
        is_open = entry is not None and entry.block == OPEN
        if (known or is_open) and not isinstance(value, dict):
            self.issue(path, f"must be a mapping, got {describe_type(value)}")
            return
        if not known or is_open or not isinstance(value, dict):
            return
        for key, child in value.items():
            if key in known:
                self.walk(child, (*path, key), f"{pattern}.{key}", recorded=recorded)
            else:
                self.unknown(path, str(key), known)


def is_modelmesh(data: Any) -> bool:
    """True when the document is in ModelMesh's shape.

    That is: a ModelMesh-only top-level section (`secrets`, `observability`, `discovery`,
    `connectors`, `proxy`), or a provider without the daemon's `kind` (ModelMesh names the
    connector by the provider's key or `connector:`), or with a `connector`/`config` block.
    """
    if not isinstance(data, dict):
        return False
    if any(key in data for key in _MM_ONLY_TOP):
        return True
    providers = data.get("providers")
    return isinstance(providers, dict) and any(
        isinstance(p, dict) and ("kind" not in p or "connector" in p or "config" in p)
        for p in providers.values()
    )


@dataclass(frozen=True, slots=True)
class ModelMeshRead:
    """A ModelMesh document in the daemon's own shape.

    Attributes:
        data: The rewritten document.
        origin: Rewritten key path -> the one the user wrote (so errors point at the file).
        issues: What is wrong with the document's ModelMesh shape.
        unresolved: The reference issues that still matter (see `read_modelmesh`).
        reading: What was used and ignored, for `validate` to tell.
    """

    data: dict[str, Any]
    origin: dict[KeyPath, KeyPath]
    issues: list[ConfigIssue]
    unresolved: list[ConfigIssue]
    reading: ModelMeshReading


def read_modelmesh(
    data: dict[str, Any],
    environ: Mapping[str, str],
    unresolved: Iterable[ConfigIssue] = (),
) -> ModelMeshRead:
    """Rewrite a (resolved) ModelMesh document into this daemon's own shape.

    Args:
        data: The document, `${...}` references already resolved.
        environ: Where `MODELMESH_HEALTHD_BASE_URL_<PROVIDER>` overrides are looked up.
        unresolved: The issues of resolving its references. Those inside settings the daemon
            does not use (an ignored key, a disabled provider) are dropped: a secret that
            only ModelMesh needs need not be set for the daemon.
    """
    r = _Reading(environ)
    out: dict[str, Any] = {}
    known_top = (*_OUR_TOP, "providers", "models", "pools", "storage", *_MM_ONLY_TOP)
    for key, value in data.items():
        if key in _OUR_TOP:
            out[key] = value
        elif key == "secrets":
            continue  # already applied by the loader
        elif key == "storage":
            storage = _storage(value, r)
            if storage:
                out["storage"] = storage
        elif key in _MM_ONLY_TOP:
            if key != "discovery":  # read below, after the sections it merges into
                r.walk(value, (key,), key)
        elif key not in ("providers", "models", "pools"):
            r.unknown((), str(key), known_top)
    if "discovery" in data:
        _discovery(data["discovery"], data, out, r)
    providers = _section(data, "providers", r)
    models = _section(data, "models", r)
    pools = _section(data, "pools", r)
    out["providers"] = {pid: _provider(pid, entry, r) for pid, entry in providers.items()}
    out["models"] = {mid: _model(mid, entry, r) for mid, entry in models.items()}
    out["pools"], empty = _pools(pools, models, providers, r)
    disabled = [
        ("providers", pid)
        for pid, entry in providers.items()
        if isinstance(entry, dict) and entry.get("enabled") is False
    ]
    unused = {*(path for path, _ in r.ignored), *disabled}
    kept = [
        i for i in unresolved if not any(i.path[:n] in unused for n in range(1, len(i.path) + 1))
    ]
    by_pattern: dict[str, list[tuple[KeyPath, str]]] = {}
    for path, why in r.ignored:
        by_pattern.setdefault(_pattern(path), []).append((path, why))
    reading = ModelMeshReading(
        ignored=tuple(
            (format_path(path), why)
            for found in by_pattern.values()
            for path, why in found[:_EXAMPLES]
        ),
        mapped=tuple(r.mapped),
        empty_pools=tuple(empty),
        unknown_connectors=tuple(r.unknown_connectors),
        ignored_keys=tuple((pattern, len(found)) for pattern, found in by_pattern.items()),
        secret_store=store_name(data.get("secrets")),
    )
    return ModelMeshRead(out, r.origin, r.issues, kept, reading)


def _pattern(path: KeyPath) -> str:
    """`("providers", "openai.llm.v1", "budget")` -> `providers.*.budget`."""
    if path and path[0] in ("providers", "models", "pools") and len(path) > 1:
        path = (path[0], "*", *path[2:])
    return ".".join(map(str, path))


def _section(data: dict[str, Any], key: str, r: _Reading) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        r.issue((key,), f"must be a mapping, got {describe_type(value)}")
        return {}
    return value


def _storage(value: Any, r: _Reading) -> dict[str, Any]:
    """ModelMesh's `storage:` is its own store; only a `url` the user added is the daemon's."""
    r.walk(value, ("storage",), "storage")
    if not isinstance(value, dict):
        return {}
    for key in value:
        entry = lookup(f"storage.{key}")
        if key != "url":
            why = entry.why if entry and entry.why else "an attribute of ModelMesh's own store"
            r.ignored.append((("storage", key), why))
    return {"url": value["url"]} if "url" in value else {}


def _discovery(value: Any, data: dict[str, Any], out: dict[str, Any], r: _Reading) -> None:
    """`discovery.health` is this daemon's job: its interval, timeout and threshold apply."""
    r.walk(value, ("discovery",), "discovery")
    health = value.get("health") if isinstance(value, dict) else None
    if not isinstance(health, dict):
        return
    found = health_settings(health, data)
    out.update(found.sections)
    r.origin.update(found.origin)
    r.issues += found.issues
    r.mapped += [(format_path(path), what) for path, what in found.mapped]


def _env_name(provider: str) -> str:
    return BASE_URL_ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", provider.upper())


def _provider(pid: str, entry: Any, r: _Reading) -> Any:
    here: KeyPath = ("providers", pid)
    if not isinstance(entry, dict):
        r.issue(here, f"must be a mapping, got {describe_type(entry)}")
        return {}
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if key in _PROVIDER_OURS:
            out[key] = value
        elif key == "config":
            _lift(here, entry, out, r)
        elif key != "connector":
            pattern = f"providers.*.{key}"
            if lookup(pattern) is None:
                r.unknown(here, str(key), (*_PROVIDER_OURS, *children_of("providers.*")))
            else:
                r.walk(value, (*here, key), pattern)
    override = r.env.get(_env_name(pid))
    if override:
        out["base_url"] = override
        r.mapped.append((format_path((*here, "base_url")), f"${_env_name(pid)} (environment)"))
    if "kind" not in out:
        _choose_kind(pid, entry, out, r)
    return out


def _choose_kind(pid: str, entry: dict[str, Any], out: dict[str, Any], r: _Reading) -> None:
    """The probe kind of the provider's connector; a user's URL in the kind's terms."""
    here: KeyPath = ("providers", pid)
    connector = entry.get("connector", pid)
    if not isinstance(connector, str):
        r.issue((*here, "connector"), f"must be a string, got {describe_type(connector)}")
        return
    found = connector_kind(connector)
    where = (*here, "connector") if "connector" in entry else here
    if found is None:
        close = difflib.get_close_matches(connector, list(CONNECTORS), n=1, cutoff=0.8)
        if close:
            r.issue(where, f"unknown connector {connector!r} (did you mean {close[0]!r}?)")
            return
        # ModelMesh accepts any connector id (a custom package, one its docs name but 0.1.1
        # does not ship): so does the daemon, which cannot probe it.
        found = (UNSUPPORTED, None)
        r.unknown_connectors.append(pid)
    user_url = out.get("base_url")
    out["kind"], default_url = found
    if isinstance(user_url, str):
        # A user's URL means what it means to ModelMesh (which appends `/v1/...` itself).
        out["base_url"] = connector_url(connector, user_url)
    elif default_url:
        out["base_url"] = default_url


def _lift(here: KeyPath, entry: dict[str, Any], out: dict[str, Any], r: _Reading) -> None:
    """Move the settings of a ModelMesh `config:` block up to where ours live."""
    settings = entry["config"]
    if settings is None:
        return
    if not isinstance(settings, dict):
        r.issue((*here, "config"), f"must be a mapping, got {describe_type(settings)}")
        return
    if "api_key" in settings and "api_key" not in entry:
        out["api_key"] = settings["api_key"]
        r.origin[(*here, "api_key")] = (*here, "config", "api_key")
    for url_key in _CONFIG_URL_KEYS:
        if url_key in settings and "base_url" not in entry:
            out["base_url"] = settings[url_key]
            r.origin[(*here, "base_url")] = (*here, "config", url_key)
            break
    for key in ("api_version", "headers"):
        if key in settings and key not in entry:
            out[key] = settings[key]
            r.origin[(*here, key)] = (*here, "config", key)


def _model(mid: str, entry: Any, r: _Reading) -> Any:
    here: KeyPath = ("models", mid)
    if not isinstance(entry, dict):
        r.issue(here, f"must be a mapping, got {describe_type(entry)}")
        return {}
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if key in _MODEL_OURS:
            out[key] = value
        elif lookup(f"models.*.{key}") is None:
            r.unknown(here, str(key), (*_MODEL_OURS, *children_of("models.*")))
        else:
            r.walk(value, (*here, key), f"models.*.{key}")
    return out


def _strings(value: Any, path: KeyPath, r: _Reading) -> list[str] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        r.issue(path, f"must be a list of non-empty strings, got {describe_type(value)}")
        return None
    return value


def _pools(
    pools: dict[str, Any], models: dict[str, Any], providers: dict[str, Any], r: _Reading
) -> tuple[dict[str, Any], list[str]]:
    """Pools as explicit model lists, with ModelMesh's members; the empty ones apart."""
    specs: dict[str, PoolSpec] = {}
    ok = True
    for pid, entry in pools.items():
        here: KeyPath = ("pools", pid)
        if not isinstance(entry, dict):
            r.issue(here, f"must be a mapping, got {describe_type(entry)}")
            ok = False
            continue
        chosen: dict[str, Any] = {}
        for key, value in entry.items():
            if key == "capability":
                if not isinstance(value, str) or not value:
                    r.issue((*here, key), f"must be a non-empty string, got {describe_type(value)}")
                    ok = False
                chosen[key] = value
            elif key in ("models", "providers"):
                chosen[key] = _strings(value, (*here, key), r)
                ok = ok and chosen[key] is not None
            elif lookup(f"pools.*.{key}") is None:
                r.unknown(here, str(key), (*_POOL_OURS, *children_of("pools.*")))
            else:
                r.walk(value, (*here, key), f"pools.*.{key}")
        _check_references(here, chosen, models, providers, r)
        specs[pid] = PoolSpec(**chosen)
    caps: dict[str, list[str]] = {}
    owners: dict[str, str] = {}
    for mid, entry in models.items():
        if not isinstance(entry, dict):
            continue
        listed = entry.get("capabilities", [])
        found = _strings(listed, ("models", mid, "capabilities"), r) if listed else []
        ok = ok and found is not None
        caps[mid] = found or []
        owners[mid] = entry.get("provider", "") if isinstance(entry.get("provider"), str) else ""
    if not ok:
        return {}, []
    members = pool_members(specs, caps, owners)
    kept = {pid: {"models": found} for pid, found in members.items() if found}
    return kept, [pid for pid, found in members.items() if not found]


def _check_references(
    here: KeyPath,
    chosen: dict[str, Any],
    models: dict[str, Any],
    providers: dict[str, Any],
    r: _Reading,
) -> None:
    # ModelMesh adds an undefined model as a member that can never route, and silently
    # filters on an undefined provider: both are typos worth stopping for.
    for key, defined in (("models", models), ("providers", providers)):
        for i, name in enumerate(chosen.get(key) or ()):
            if name not in defined:
                what = key.rstrip("s")
                r.issue((*here, key, i), f"unknown {what} {name!r}" + did_you_mean(name, defined))
