"""`${VAR}`, `${VAR:-default}`, `${env:VAR}`, `${secrets:VAR}` and `${file:/path}` in string values.

Interpolation runs on the parsed YAML tree before validation, so every error names the key path
it came from. Values are never echoed: a missing variable is reported by its name.
`$${` writes a literal `${`.

A secret file is read only if it is a regular file of at most 64 KiB (`limits.MAX_SECRET_BYTES`),
without ever blocking: a FIFO, a device or a directory is refused by name, not read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from modelmesh_healthd.config.errors import ConfigIssue
from modelmesh_healthd.config.limits import (
    MAX_SECRET_BYTES,
    Deadline,
    FileRefused,
    read_regular_file,
)

__all__ = ["interpolate"]

_REF = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def interpolate(
    data: Any,
    environ: Mapping[str, str],
    *,
    base_dir: Path | None = None,
    deadline: Deadline | None = None,
    shared: bool = False,
    secrets: Callable[[str], str | ConfigIssue] | None = None,
) -> tuple[Any, list[ConfigIssue], set[tuple[str | int, ...]]]:
    """Resolve references in every string of `data`.

    Args:
        data: Parsed YAML (dicts, lists, scalars).
        environ: Where `${VAR}` looks.
        base_dir: Relative `${file:...}` paths resolve against it (the config file's directory).
        deadline: When loading must be over.
        shared: The tree shares mappings or lists (YAML aliases): each is resolved once and
            stays shared, so that the tree never grows to its expanded size. A problem in a
            shared part is reported at the first place it appears.
        secrets: Resolves `${secrets:NAME}` (a ModelMesh secret store); default: like `${NAME}`.

    Returns:
        The resolved tree (a new one: see `tidy_strings` for why a copy), the issues found,
        and the key paths whose value came (even partly) from a reference (they are treated
        as secret-bearing in messages).

    Raises:
        LoadTimeout: Past the deadline.
    """
    issues: list[ConfigIssue] = []
    touched: set[tuple[str | int, ...]] = set()
    done: dict[int, Any] | None = {} if shared else None  # id -> resolved, when shared
    visited = 0

    def walk(value: Any, path: tuple[str | int, ...]) -> Any:
        nonlocal visited
        if isinstance(value, dict | list):
            visited += 1
            if deadline is not None and visited % 1024 == 0:
                deadline.check()
            if done is not None:
                if id(value) in done:
                    return done[id(value)]
                out = done[id(value)] = _walk_collection(value, path)
                return out
            return _walk_collection(value, path)
        if isinstance(value, str) and "${" in value:
            return _resolve(value, path)
        return value

    def _walk_collection(value: dict[Any, Any] | list[Any], path: tuple[str | int, ...]) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*path, str(k))) for k, v in value.items()}
        return [walk(v, (*path, i)) for i, v in enumerate(value)]

    def _resolve(text: str, path: tuple[str | int, ...]) -> str:
        def one(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            touched.add(path)
            body = match.group(1).strip()
            resolved = _lookup(body, environ, base_dir, secrets)
            if isinstance(resolved, ConfigIssue):
                issues.append(ConfigIssue(path, resolved.message))
                return ""
            return resolved

        return _REF.sub(one, text)

    return walk(data, ()), issues, touched


def _lookup(
    body: str,
    environ: Mapping[str, str],
    base_dir: Path | None,
    secrets: Callable[[str], str | ConfigIssue] | None,
) -> str | ConfigIssue:
    scheme, sep, rest = body.partition(":")
    if sep and scheme == "file":
        return _read_file(rest.strip(), base_dir)
    if sep and scheme == "secrets" and secrets is not None and _NAME.fullmatch(rest.strip()):
        return secrets(rest.strip())
    if sep and scheme in ("env", "secrets") and not rest.startswith("-"):
        name, default = rest.strip(), None
    else:
        name, _, default_text = body.partition(":-")
        name = name.strip()
        default = default_text if ":-" in body else None
    if not _NAME.fullmatch(name):
        return ConfigIssue(
            (),
            f"bad reference ${{{body}}}: expected ${{NAME}}, ${{NAME:-default}} or ${{file:/path}}",
        )
    value = environ.get(name)
    if value is None or (value == "" and default is not None):
        if default is not None:
            return default
        return ConfigIssue((), f"environment variable {name} is not set")
    return value


def _read_file(raw: str, base_dir: Path | None) -> str | ConfigIssue:
    if not raw:
        return ConfigIssue((), "bad reference ${file:}: no path given")
    path = Path(raw).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        return read_regular_file(path, MAX_SECRET_BYTES).decode("utf-8").rstrip("\r\n")
    except FileRefused as exc:
        return ConfigIssue((), f"cannot read secret file {path}: {exc}")
    except UnicodeDecodeError:
        return ConfigIssue((), f"secret file {path} is not UTF-8 text")
