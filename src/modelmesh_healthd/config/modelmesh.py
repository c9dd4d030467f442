"""Accept ModelMesh's own YAML: providers keyed by id with `connector`, `config`/`auth` blocks.

ModelMesh's configuration carries much that is not ours (budgets, routing strategies, secret
stores...). Those keys are known and skipped; any other unknown key is still an error, so a
misspelt key is caught in either shape.
"""

from __future__ import annotations

from typing import Any

from modelmesh_healthd.config.errors import ConfigIssue, describe_type
from modelmesh_healthd.kinds import connector_kind, connector_url, kind_names

__all__ = ["connector_kind", "is_modelmesh", "normalize_modelmesh"]

Path = tuple[str | int, ...]

_MM_PROVIDER_KEYS = frozenset(
    {
        "connector",
        "config",
        "auth",
        "budget",
        "rate_limit",
        "rate_limits",
        "retry",
        "features",
        "capabilities",
        "models",
        "discovery",
        "quota",
        "cost",
        "pricing",
        "description",
        "metadata",
        "tags",
        "priority",
        "weight",
        "timeout",
        "name",
        "display_name",
        "region",
        "organization",
        "project",
    }
)
_MM_CONFIG_URL_KEYS = ("base_url", "endpoint", "api_base", "host", "url")
_MM_MODEL_KEYS = frozenset(
    {
        "features",
        "cost",
        "pricing",
        "context_window",
        "max_tokens",
        "max_output_tokens",
        "constraints",
        "metadata",
        "delivery",
        "aliases",
        "description",
        "tags",
        "limits",
        "quota",
        "budget",
        "parameters",
        "deprecated",
        "display_name",
        "model_id",
        "model",
    }
)
_MM_POOL_KEYS = frozenset(
    {
        "strategy",
        "rotation",
        "fallback",
        "retry",
        "budget",
        "description",
        "deactivation",
        "recovery",
        "selection",
        "weights",
        "metadata",
        "intelligence",
        "policy",
        "name",
    }
)
_MM_TOP_KEYS = frozenset(
    {
        "secrets",
        "observability",
        "discovery",
        "routing",
        "system",
        "proxy",
        "logging",
        "budget",
        "version",
        "integrations",
        "connectors",
        "rotation",
        "intelligence",
    }
)


def is_modelmesh(data: Any) -> bool:
    """True when the document is in ModelMesh's shape (a provider names a `connector`)."""
    providers = data.get("providers") if isinstance(data, dict) else None
    return isinstance(providers, dict) and any(
        isinstance(p, dict) and "connector" in p for p in providers.values()
    )


def normalize_modelmesh(
    data: dict[str, Any],
) -> tuple[dict[str, Any], dict[Path, Path], list[ConfigIssue]]:
    """Rewrite a ModelMesh document into this daemon's own shape.

    Returns:
        The rewritten document, a map from rewritten key paths back to the original ones (so
        that later errors point at what the user wrote), and the issues found on the way.
    """
    issues: list[ConfigIssue] = []
    origin: dict[Path, Path] = {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in _MM_TOP_KEYS:
            continue
        if key == "storage" and isinstance(value, dict):
            out[key] = {k: v for k, v in value.items() if k not in ("connector", "config")}
        elif key == "providers" and isinstance(value, dict):
            out[key] = {pid: _provider(pid, entry, origin, issues) for pid, entry in value.items()}
        elif key == "models" and isinstance(value, dict):
            out[key] = {mid: _model(entry) for mid, entry in value.items()}
        elif key == "pools" and isinstance(value, dict):
            out[key] = {
                pid: {k: v for k, v in entry.items() if k not in _MM_POOL_KEYS}
                if isinstance(entry, dict)
                else entry
                for pid, entry in value.items()
            }
        else:
            out[key] = value
    return out, origin, issues


def _provider(pid: str, entry: Any, origin: dict[Path, Path], issues: list[ConfigIssue]) -> Any:
    if not isinstance(entry, dict):
        return entry
    here: Path = ("providers", pid)
    out = {k: v for k, v in entry.items() if k not in _MM_PROVIDER_KEYS}
    connector = entry.get("connector")
    if "kind" not in out:
        if not isinstance(connector, str):
            issues.append(
                ConfigIssue(
                    (*here, "connector"), f"must be a string, got {describe_type(connector)}"
                )
            )
            return out
        found = connector_kind(connector)
        if found is None:
            issues.append(
                ConfigIssue(
                    (*here, "connector"),
                    f"no probe for connector {connector!r}: set `kind:` to one of "
                    + ", ".join(kind_names()),
                )
            )
            return out
        out["kind"], default_url = found
        if default_url and "base_url" not in out:
            out["base_url"] = default_url
    for block in ("config", "auth"):
        _lift(here, entry, block, out, origin=origin, issues=issues)
    # A user's URL means what it means to ModelMesh (which appends `/v1/...` itself).
    user_url = "base_url" in entry or (*here, "base_url") in origin
    if user_url and "kind" not in entry and isinstance(connector, str):
        url = out.get("base_url")
        out["base_url"] = connector_url(connector, url) if isinstance(url, str) else url
    return out


def _lift(
    here: Path,
    entry: dict[str, Any],
    block: str,
    out: dict[str, Any],
    *,
    origin: dict[Path, Path],
    issues: list[ConfigIssue],
) -> None:
    """Move the settings of a ModelMesh `config:`/`auth:` block up to where ours live."""
    settings = entry.get(block)
    if settings is None:
        return
    if not isinstance(settings, dict):
        issues.append(
            ConfigIssue((*here, block), f"must be a mapping, got {describe_type(settings)}")
        )
        return
    if "api_key" in settings and "api_key" not in entry:
        out["api_key"] = settings["api_key"]
        origin[(*here, "api_key")] = (*here, block, "api_key")
    for url_key in _MM_CONFIG_URL_KEYS:
        if url_key in settings and "base_url" not in entry:
            out["base_url"] = settings[url_key]
            origin[(*here, "base_url")] = (*here, block, url_key)
            break
    for key in ("api_version", "headers"):
        if key in settings and key not in entry:
            out[key] = settings[key]
            origin[(*here, key)] = (*here, block, key)


def _model(entry: Any) -> Any:
    if not isinstance(entry, dict):
        return entry
    out = {k: v for k, v in entry.items() if k not in _MM_MODEL_KEYS}
    if "name" not in out:
        for key in ("model_id", "model"):
            if isinstance(entry.get(key), str):
                out["name"] = entry[key]
                break
    return out
