"""ModelMesh's `secrets:` block: where `${secrets:NAME}` references are resolved.

ModelMesh names a secret store connector (`store:`) and resolves every `${secrets:NAME}` of the
file through it. Two stores read what a daemon can read on its own machine and are supported
here exactly as ModelMesh's connectors define them:

- `modelmesh.env.v1` (the default): the environment variable `NAME`, or `PREFIX` + `NAME` when
  the block sets `prefix:`.
- `modelmesh.dotenv.v1`: the `.env` file named by `path:` (default `.env`), parsed with
  python-dotenv's parser without variable expansion; a line it cannot read is skipped, as
  ModelMesh skips it, and named if a secret is then missing. As in ModelMesh, a variable set in
  the environment wins over the file unless `override_env: true`, and a missing file means
  "environment only".
  A relative path is taken from the configuration file's directory (ModelMesh takes it from
  its working directory, which is that directory when the router is started beside its YAML).

Every other store (cloud secret managers, 1Password, keyrings, encrypted files) is refused with
one line: the daemon does not talk to them, and a key it cannot read would make every probe an
`auth_invalid` that is not the provider's fault.

Secret values never leave this module except as the resolved string handed to the
configuration: messages name the secret and the store, never a value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from modelmesh_healthd.config.errors import ConfigIssue, describe_type

__all__ = [
    "DEFAULT_STORE",
    "SUPPORTED_STORES",
    "SecretLookup",
    "secret_lookup",
    "store_name",
]

DEFAULT_STORE = "modelmesh.env.v1"
DOTENV_STORE = "modelmesh.dotenv.v1"
SUPPORTED_STORES = (DEFAULT_STORE, DOTENV_STORE)

SecretLookup = Callable[[str], "str | ConfigIssue"]
"""Resolves one `${secrets:NAME}`: the value, or the issue saying why there is none."""

_HERE: tuple[str, ...] = ("secrets",)


def secret_lookup(
    block: Any,
    environ: Mapping[str, str],
    *,
    base_dir: Path | None = None,
) -> tuple[SecretLookup | None, list[ConfigIssue]]:
    """The resolver that a `secrets:` block describes.

    Args:
        block: The value of the top-level `secrets:` key (None when the file has none).
        environ: The environment the daemon runs in.
        base_dir: The configuration file's directory, for a relative dotenv `path`.

    Returns:
        The resolver (None: no block, `${secrets:NAME}` reads the environment variable NAME),
        and the issues of the block itself.
    """
    if block is None:
        return None, []
    lookup, issues = _store(block, environ, base_dir)
    if issues:
        # The block's own line says what is wrong; references it cannot resolve add nothing.
        return _nothing, issues
    return lookup, []


def _nothing(name: str) -> str:
    return ""


def _store(
    block: Any, environ: Mapping[str, str], base_dir: Path | None
) -> tuple[SecretLookup | None, list[ConfigIssue]]:
    if not isinstance(block, dict):
        return None, [ConfigIssue(_HERE, f"must be a mapping, got {describe_type(block)}")]
    store = block.get("store", DEFAULT_STORE)
    if not isinstance(store, str):
        return None, [
            ConfigIssue((*_HERE, "store"), f"must be a string, got {describe_type(store)}")
        ]
    if store == DEFAULT_STORE:
        return _env_store(block, environ)
    if store == DOTENV_STORE:
        return _dotenv_store(block, environ, base_dir)
    supported = " and ".join(SUPPORTED_STORES)
    return None, [
        ConfigIssue(
            (*_HERE, "store"),
            f"secret store {store!r} is not supported by modelmesh-healthd (only {supported}): "
            "give the daemon its keys through the environment or a .env file",
        )
    ]


def _string_setting(
    block: dict[str, Any], key: str, default: str, issues: list[ConfigIssue]
) -> str:
    value = block.get(key, default)
    if isinstance(value, str):
        return value
    issues.append(ConfigIssue((*_HERE, key), f"must be a string, got {describe_type(value)}"))
    return default


def _env_store(
    block: dict[str, Any], environ: Mapping[str, str]
) -> tuple[SecretLookup | None, list[ConfigIssue]]:
    issues: list[ConfigIssue] = []
    prefix = _string_setting(block, "prefix", "", issues)

    def lookup(name: str) -> str | ConfigIssue:
        variable = prefix + name
        value = environ.get(variable)
        if value is None:
            via = f" (secret {name} with prefix {prefix})" if prefix else ""
            return ConfigIssue((), f"environment variable {variable} is not set{via}")
        return value

    return (None if issues else lookup), issues


def _dotenv_store(
    block: dict[str, Any], environ: Mapping[str, str], base_dir: Path | None
) -> tuple[SecretLookup | None, list[ConfigIssue]]:
    issues: list[ConfigIssue] = []
    key = "file_path" if "file_path" in block and "path" not in block else "path"
    raw = _string_setting(block, key, ".env", issues)
    override = block.get("override_env", False)
    if not isinstance(override, bool):
        issues.append(
            ConfigIssue(
                (*_HERE, "override_env"), f"must be true or false, got {describe_type(override)}"
            )
        )
    if issues:
        return None, issues
    path = Path(raw).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    values: dict[str, str] = {}
    unread: list[int] = []
    if path.exists():
        from dotenv.parser import parse_stream  # only a file that names a .env store reads one

        try:
            with path.open(encoding="utf-8") as stream:
                bindings = list(parse_stream(stream))
        except OSError as exc:
            return None, [ConfigIssue((*_HERE, key), f"cannot read {path}: {exc.strerror or exc}")]
        except UnicodeDecodeError:
            return None, [ConfigIssue((*_HERE, key), f"{path} is not UTF-8 text")]
        for binding in bindings:
            if binding.error:
                unread.append(binding.original.line)
            elif binding.key is not None and binding.value is not None:
                values[binding.key] = binding.value
    where = str(path) if path.exists() else f"{path} (no such file)"
    if unread:
        where += f" (line(s) {', '.join(map(str, unread[:5]))} of it are not KEY=VALUE)"

    def lookup(name: str) -> str | ConfigIssue:
        from_env, from_file = environ.get(name), values.get(name)
        first, second = (from_file, from_env) if override else (from_env, from_file)
        value = first if first is not None else second
        if value is None:
            return ConfigIssue(
                (), f"secret {name} is not set: neither in the environment nor in {where}"
            )
        return value

    return lookup, []


def store_name(block: Any) -> str:
    """The store a `secrets:` block names (the default when it names none)."""
    store = block.get("store") if isinstance(block, dict) else None
    return store if isinstance(store, str) else DEFAULT_STORE
