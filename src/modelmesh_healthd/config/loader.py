"""Loading a configuration file: YAML -> interpolation -> shape -> validation -> cross-checks.

Every stage runs even when an earlier one found problems, so one pass reports them all: a
missing environment variable does not hide a misspelt key or a pool naming an unknown model.
Only what leaves nothing to check stops early: a file that cannot be read or parsed, or one past
a limit of `config/limits.py`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from modelmesh_healthd.config.errors import ConfigError, ConfigIssue, describe_type, did_you_mean
from modelmesh_healthd.config.interpolate import interpolate
from modelmesh_healthd.config.limits import (
    LOAD_TIMEOUT,
    MAX_CONFIG_BYTES,
    Deadline,
    FileRefused,
    LoadTimeout,
    read_regular_file,
)
from modelmesh_healthd.config.modelmesh_read import is_modelmesh, read_modelmesh
from modelmesh_healthd.config.root import Config
from modelmesh_healthd.config.secrets_stores import secret_lookup
from modelmesh_healthd.config.source import Lines, line_index, read_yaml, tidy_strings
from modelmesh_healthd.config.validation import ENTITIES, validate

__all__ = ["load_config", "load_config_in_thread", "load_config_text"]

PathT = tuple[str | int, ...]

_NOTHING_TO_PROBE = "no providers configured: nothing to probe"


def load_config(
    path: str | os.PathLike[str],
    environ: Mapping[str, str] | None = None,
    *,
    time_limit: float = LOAD_TIMEOUT,
) -> Config:
    """Read, interpolate and validate a configuration file.

    Args:
        path: The YAML file: a regular file of at most 16 MiB.
        environ: Environment for `${VAR}` references (default: the process environment).
        time_limit: The most seconds loading may take.

    Returns:
        The validated, immutable Config.

    Raises:
        ConfigError: Every problem found, one line each, naming file, line and key path.
    """
    deadline = Deadline(time_limit)
    source = str(path)
    try:
        text = read_regular_file(Path(path), MAX_CONFIG_BYTES).decode("utf-8")
    except FileRefused as exc:
        raise ConfigError([ConfigIssue((), f"cannot read: {exc}")], source) from None
    except UnicodeDecodeError:
        raise ConfigError([ConfigIssue((), "not UTF-8 text")], source) from None
    return load_config_text(
        text,
        source=source,
        environ=environ,
        base_dir=Path(path).resolve().parent,
        deadline=deadline,
    )


async def load_config_in_thread(
    path: str | os.PathLike[str],
    environ: Mapping[str, str] | None = None,
    *,
    time_limit: float = LOAD_TIMEOUT,
) -> Config:
    """`load_config` on a thread of its own, for a running daemon (a reload).

    The event loop keeps running the scheduler meanwhile. The loader keeps to `time_limit` by
    itself; should it still be stuck past that (a read that the kernel never completes, as on
    a hung network filesystem), the caller gets its answer anyway and the thread is left to
    end on its own. A thread of its own, not the shared executor, so that such a thread never
    takes a worker the state store needs.

    Raises:
        ConfigError: As `load_config`, or when loading did not end in time.
    """
    # Only a reload needs these: `validate` and the other commands load without asyncio.
    import asyncio
    import concurrent.futures
    import threading

    done: concurrent.futures.Future[Config] = concurrent.futures.Future()

    def work() -> None:
        if not done.set_running_or_notify_cancel():  # running: the waiter's cancel leaves it be
            return
        try:
            done.set_result(load_config(path, environ, time_limit=time_limit))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task as it is
            done.set_exception(exc)

    threading.Thread(target=work, name="config-load", daemon=True).start()
    try:
        return await asyncio.wait_for(asyncio.wrap_future(done), time_limit + 1.0)
    except TimeoutError:
        message = f"loading took longer than {time_limit:g}s (the limit)"
        raise ConfigError([ConfigIssue((), message)], str(path)) from None


def load_config_text(
    text: str,
    *,
    source: str | None = None,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    deadline: Deadline | None = None,
) -> Config:
    """Like `load_config`, from a string.

    Raises:
        ConfigError: Every problem found.
    """
    env = os.environ if environ is None else environ
    if len(text) > MAX_CONFIG_BYTES:
        limit = f"larger than {MAX_CONFIG_BYTES >> 20} MiB (the limit)"
        raise ConfigError([ConfigIssue((), f"cannot read: is {limit}")], source)
    try:
        return _load(text, source, env, base_dir, deadline or Deadline())
    except LoadTimeout as exc:
        raise ConfigError([ConfigIssue((), str(exc))], source) from None


def _load(
    text: str,
    source: str | None,
    env: Mapping[str, str],
    base_dir: Path | None,
    deadline: Deadline,
) -> Config:
    document = read_yaml(text, source, deadline)
    data, issues, shared = document.data, document.issues, document.shared
    if data is None:
        message = "the file is empty (or only comments): nothing to probe"
        raise ConfigError([ConfigIssue((), message, 1)], source)
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigIssue((), f"the document must be a mapping, got {describe_type(data)}", 1)],
            source,
        )
    secrets, secret_issues = secret_lookup(data.get("secrets"), env, base_dir=base_dir)
    issues += secret_issues
    data, unresolved, _ = interpolate(
        data, env, base_dir=base_dir, deadline=deadline, shared=shared, secrets=secrets
    )
    # Every failed reference leaves an empty value, used or not: what validation says of it
    # is no news (below).
    blanked = {i.path for i in unresolved}
    origin: dict[PathT, PathT] = {}
    shape_issues: list[ConfigIssue] = []
    reading = None
    if is_modelmesh(data):
        read = read_modelmesh(data, env, unresolved)
        data, origin, unresolved, reading = read.data, read.origin, read.unresolved, read.reading
        shape_issues = read.issues
        issues += shape_issues
    issues += unresolved
    deadline.check()
    data = tidy_strings(data, shared=shared)
    config, found = validate(data, origin, document.values)
    deadline.check()
    if config is not None:
        found += _cross_check(config, data, clean=not (issues or found))
    if data.get("providers", None) in (None, {}) and "providers" not in _broken(data):
        found.append(ConfigIssue(("providers",), _NOTHING_TO_PROBE))
    # A value whose reference failed stands empty, and an entry ModelMesh's shape could not
    # be translated stands half-done: what validation says of either is no news.
    blanked |= {i.path[:2] for i in shape_issues}
    issues += [
        i for i in found if not any(i.path[:end] in blanked for end in range(len(i.path) + 1))
    ]
    if issues or config is None:
        # Only the lines these issues need: a few problems in a large file stop the reading early.
        wanted = {origin.get(i.path, i.path) for i in issues if i.line is None}
        lines = _remap(line_index(text, deadline, wanted), origin)
        raise ConfigError(issues, source).with_lines(lines, source)
    config._modelmesh = reading
    return config.with_source(source)


def _broken(data: dict[Any, Any]) -> set[str]:
    # `providers: null` (or a list) is a schema error already; "nothing to probe" adds nothing.
    return {k for k in ENTITIES if k in data and not isinstance(data[k], dict)}


def _remap(lines: Lines, origin: dict[PathT, PathT]) -> Lines:
    out = dict(lines)
    for new, old in origin.items():
        if old in lines:
            out[new] = lines[old]
    return out


def _quorum_issues(config: Config) -> list[ConfigIssue]:
    """A quorum needs a site name, and more than one site needs a store the sites share."""
    quorum = config.health.quorum
    if quorum is None:
        return []
    if config.daemon.vantage is None:
        return [
            ConfigIssue(
                ("health", "quorum"),
                "needs daemon.vantage, the name of this daemon's site (e.g. vantage: eu-west)",
            )
        ]
    query = urlsplit(config.storage.url or "").query
    shared = any(
        key == "replicas" and value.lower() in ("on", "true", "1", "yes")
        for key, value in parse_qsl(query)
    )
    if quorum > 1 and not shared:
        return [
            ConfigIssue(
                ("health", "quorum"),
                f"{quorum} sites must share a store: storage.url must be Redis or PostgreSQL "
                "with ?replicas=on",
            )
        ]
    return []


def _cross_check(config: Config, data: dict[Any, Any], *, clean: bool) -> list[ConfigIssue]:
    """Rules between sections and references between entries.

    References are checked against every entry the file names (`data`), also those that
    failed validation and are missing from `config`: a model of a misconfigured provider is
    not also "of an unknown provider".

    Args:
        config: What validated.
        data: The document as validated.
        clean: No problem was found so far (only then can a pool's emptiness be judged).
    """
    issues: list[ConfigIssue] = [
        ConfigIssue(("health", field), message.removeprefix(field + " "))
        for field, message in config.health.problems()
    ]
    issues += [ConfigIssue(("schedule", f), m) for f, m in config.schedule.problems()]
    issues += _quorum_issues(config)
    for pid, provider in config.providers.items():
        issues += [ConfigIssue(("providers", pid, f), m) for f, m in provider.problems()]
        if not config.schedule.problems():
            merged = provider.schedule.over(config.schedule)
            issues += [
                ConfigIssue(("providers", pid, "schedule", f), m + " (after the global schedule)")
                for f, m in merged.problems()
            ]
    providers = _names(data, "providers")
    models = _names(data, "models")
    for mid, model in config.models.items():
        issues += [ConfigIssue(("models", mid, f), m) for f, m in model.problems()]
        if model.provider not in providers:
            issues.append(
                ConfigIssue(
                    ("models", mid, "provider"),
                    f"unknown provider {model.provider!r}"
                    + did_you_mean(model.provider, providers),
                )
            )
    for pid, pool in config.pools.items():
        for i, mid in enumerate(pool.models):
            if mid not in models:
                issues.append(
                    ConfigIssue(
                        ("pools", pid, "models", i),
                        f"unknown model {mid!r}" + did_you_mean(mid, models),
                    )
                )
        for i, prov in enumerate(pool.providers):
            if prov not in providers:
                issues.append(
                    ConfigIssue(
                        ("pools", pid, "providers", i),
                        f"unknown provider {prov!r}" + did_you_mean(prov, providers),
                    )
                )
    for i, window in enumerate(config.maintenance):
        for section, names, known in (
            ("providers", window.providers, providers),
            ("models", window.models, models),
        ):
            issues += [
                ConfigIssue(
                    ("maintenance", i, section, j),
                    f"unknown {section[:-1]} {name!r}" + did_you_mean(name, known),
                )
                for j, name in enumerate(names)
                if name not in known
            ]
    if issues or not clean:
        return issues
    return [
        ConfigIssue(("pools", pid), "selects no model")
        for pid in config.pools
        if not config.pool_members(pid)
    ]


def _names(data: dict[Any, Any], section: str) -> dict[str, None]:
    # Ordered (the did-you-mean picks the first of equals) and O(1) to look up: fleets are large.
    entries = data.get(section)
    return dict.fromkeys(str(k) for k in entries) if isinstance(entries, dict) else {}
