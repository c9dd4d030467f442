"""The admin endpoint's section: apart, so `health`, `drain` and `overrides` read it alone.

Those commands read only the configuration's `admin:` section; with it in a module of its own
they do without the other sections' models and the whole loader.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import SecretStr, ValidationInfo, field_validator, model_validator

from modelmesh_healthd.config.section import _Section

__all__ = ["AdminConfig"]


class AdminConfig(_Section):
    """The admin HTTP endpoint (/livez, /readyz, /metrics, /v1/state, /v1/providers/NAME)."""

    enabled: bool = True
    """False: no endpoint (`health` then reads the heartbeat file)."""
    listen: str = "127.0.0.1:9464"
    """host:port; loopback by default. `0.0.0.0:9464` to let a Prometheus elsewhere scrape it."""
    token: SecretStr | None = None
    """Bearer token of the admin API: give it as `${file:/path}` or `${env:NAME}`, never inline.
    Without one, every endpoint `auth` protects refuses with 401 (writes are then disabled)."""
    reports_token: SecretStr | None = None
    """Deprecated alias of `token` (it once guarded `POST /v1/reports` alone): taken as `token`
    when that is unset; both set and different is an error."""
    auth: Literal["read", "write", "none"] = "write"
    """What needs the token: `write` (overrides, reports), `read` (also every GET except
    /livez and /readyz, which supervisors call without one) or `none` (nothing: a test rig)."""

    base_path: str = ""
    """The path prefix a reverse proxy serves the endpoint under (e.g. `/healthd`): the status
    page's links carry it, and every path is also answered under it."""

    @field_validator("base_path")
    @classmethod
    def _base_path(cls, value: str) -> str:
        value = value.rstrip("/")
        if value and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", value):
            raise ValueError(
                f"expected a path such as /healthd (letters, digits, . _ ~ -), got {value!r}"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _reports_token_is_the_token(cls, data: Any) -> Any:
        # One token guards every write (see daemon.admin_auth): the old reports-only token is
        # that token under its former name, so a file written for it keeps working.
        if isinstance(data, dict) and data.get("token") is None and "reports_token" in data:
            return {**data, "token": data["reports_token"]}
        return data

    @field_validator("reports_token")
    @classmethod
    def _one_token(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        token = info.data.get("token")  # validated first: it is declared first
        if value is not None and token is not None and token != value:
            raise ValueError(
                "deprecated alias of admin.token, and the two differ: one token guards every "
                "write; keep only admin.token"
            )
        return value

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"expected host:port, got {value!r}")
        return value

    @property
    def host(self) -> str:
        """The host part of `listen` (an IPv6 literal without its brackets)."""
        return self.listen.rpartition(":")[0].removeprefix("[").removesuffix("]")

    @property
    def port(self) -> int:
        """The port part of `listen` (0: any free port, for tests)."""
        return int(self.listen.rpartition(":")[2])
