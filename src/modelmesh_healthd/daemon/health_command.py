"""`modelmesh-healthd health`: is the running daemon making progress? (exit 0 yes, 1 no)

For a container's HEALTHCHECK and for operators. It asks the daemon's admin endpoint (`/livez`)
with the standard library's HTTP client, so it needs nothing in the image besides this package;
with the admin endpoint disabled it reads the heartbeat file instead. Only the configuration's
`admin:` section is read, so it needs none of the API keys that the rest of the file references.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from modelmesh_healthd.config.admin import AdminConfig
from modelmesh_healthd.config.errors import ConfigError
from modelmesh_healthd.config.interpolate import interpolate
from modelmesh_healthd.config.limits import MAX_CONFIG_BYTES, FileRefused, read_regular_file
from modelmesh_healthd.config.source import parse_yaml, tidy_strings
from modelmesh_healthd.daemon.liveness import heartbeat_path, read_heartbeat

__all__ = ["admin_settings", "check_admin", "check_daemon"]

# A daemon listening on every interface is asked on loopback (nothing is bound here).
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - see above


def admin_settings(path: str | None, environ: Mapping[str, str]) -> AdminConfig:
    """The `admin:` section of a configuration file (defaults without a file).

    Args:
        path: The configuration file, or None.
        environ: For `${VAR}` references inside the section.

    Raises:
        ValueError: The file cannot be read or its `admin:` section is invalid (one line).
    """
    if path is None:
        return AdminConfig()
    try:
        # The same bounded, never-blocking read as the loader: a FIFO or /dev/zero named by
        # mistake must not hang or swell the health check of a container.
        text = read_regular_file(Path(path), MAX_CONFIG_BYTES).decode("utf-8")
        data = parse_yaml(text, path)
    except FileRefused as exc:
        raise ValueError(f"{path}: cannot read: {exc}") from None
    except (UnicodeDecodeError, ConfigError) as exc:
        raise ValueError(f"{path}: {str(exc).splitlines()[0]}") from None
    section = data.get("admin") if isinstance(data, dict) else None
    section, issues, _ = interpolate(section or {}, environ, base_dir=Path(path).parent)
    if issues:
        raise ValueError(f"{path}: admin: {issues[0].message}")
    try:
        return AdminConfig.model_validate(tidy_strings(section))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in ("admin", *first["loc"]))
        raise ValueError(f"{path}: {where}: {first['msg']}") from None


def check_admin(admin: AdminConfig, timeout: float) -> tuple[bool, str]:
    """Ask the daemon's `/livez`.

    Args:
        admin: Where it listens (a wildcard address is asked on loopback).
        timeout: Seconds for connecting and for the answer.

    Returns:
        (healthy, one line saying why).
    """
    host = _WILDCARDS.get(admin.host, admin.host)
    where = f"http://{admin.listen}/livez"
    conn = http.client.HTTPConnection(host, admin.port, timeout=timeout)
    try:
        conn.request("GET", "/livez", headers={"Accept": "application/json"})
        response = conn.getresponse()
        raw = response.read(65536)
    except ConnectionRefusedError:
        return False, f"no daemon answering at {where} (connection refused)"
    except TimeoutError:
        return False, f"no answer from {where} within {timeout:g}s: daemon hung or overloaded"
    except (OSError, http.client.HTTPException) as exc:
        return False, f"cannot ask {where}: {type(exc).__name__}: {exc}"
    finally:
        conn.close()
    try:
        reason = str(json.loads(raw)["reason"])
    except (ValueError, KeyError, TypeError):
        reason = f"HTTP {response.status} without a liveness verdict: not this daemon?"
    return response.status == 200, reason


def check_daemon(
    config: str | None,
    environ: Mapping[str, str],
    *,
    timeout: float = 5.0,
    heartbeat: str | None = None,
) -> tuple[bool, str]:
    """The `health` command: ask the admin endpoint, or read the heartbeat file.

    Args:
        config: The daemon's configuration file (None: the defaults, admin on 127.0.0.1:9464).
        environ: The environment (`${VAR}` in the admin section; `RUNTIME_DIRECTORY` /
            `STATE_DIRECTORY` locate the heartbeat file).
        timeout: Seconds to wait for the admin endpoint.
        heartbeat: Read this heartbeat file instead of asking the endpoint.

    Returns:
        (healthy, one line saying why).
    """
    if heartbeat is not None:
        return read_heartbeat(Path(heartbeat), time.time())
    path = heartbeat_path(environ)
    try:
        admin = admin_settings(config, environ)
    except ValueError as exc:
        if path is None:
            return False, str(exc)
        # E.g. `demo` in the container image, which has no config at the default place: the
        # heartbeat carries the same verdict as /livez.
        healthy, reason = read_heartbeat(path, time.time())
        return healthy, f"{reason} (heartbeat file; no admin settings: {exc})"
    if admin.enabled:
        return check_admin(admin, timeout)
    if path is None:
        return False, (
            "admin endpoint disabled and no heartbeat file to read: set STATE_DIRECTORY (or "
            "RUNTIME_DIRECTORY) as the daemon has it, or pass --heartbeat FILE"
        )
    return read_heartbeat(path, time.time())
