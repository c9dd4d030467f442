"""Who may call the admin API (tables), and where it listens by default (a real socket)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
import yaml
from daemon_support import Running, fleet
from ops_support import admin_config, admin_daemon, admin_url
from pydantic import SecretStr
from structlog.testing import capture_logs

from modelmesh_healthd.config import ConfigError, load_config, load_config_text
from modelmesh_healthd.config.admin import AdminConfig
from modelmesh_healthd.daemon.admin_auth import bearer_ok, needs_token
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.simulator import Simulator

NEEDS = {
    "write mode lets reads through": ("write", "GET", "/v1/state", False),
    "write mode guards a POST": ("write", "POST", "/v1/overrides", True),
    "write mode guards a DELETE": ("write", "DELETE", "/v1/overrides/a", True),
    "read mode guards reads": ("read", "GET", "/v1/overrides", True),
    "read mode guards metrics": ("read", "GET", "/metrics", True),
    "read mode leaves livez to supervisors": ("read", "GET", "/livez", False),
    "read mode leaves readyz to supervisors": ("read", "GET", "/readyz", False),
    "none mode guards nothing": ("none", "POST", "/v1/overrides", False),
}


@pytest.mark.parametrize(("auth", "method", "path", "needed"), NEEDS.values(), ids=NEEDS.keys())
def test_which_requests_need_the_token(auth: str, method: str, path: str, needed: bool) -> None:
    assert needs_token(auth, method, path) is needed


UNDER_PREFIX = {
    "livez stays open under the prefix": ("read", "GET", "/healthd/livez", False),
    "readyz stays open under the prefix": ("read", "GET", "/healthd/readyz", False),
    "reads under the prefix are guarded in read mode": ("read", "GET", "/healthd/v1/state", True),
    "writes under the prefix are guarded": ("write", "POST", "/healthd/v1/overrides", True),
    "a look-alike prefix opens nothing": ("read", "GET", "/healthdx/livez", True),
}


@pytest.mark.parametrize(
    ("auth", "method", "path", "needed"), UNDER_PREFIX.values(), ids=UNDER_PREFIX.keys()
)
def test_the_open_paths_stay_open_under_the_base_path_and_nothing_else_does(
    auth: str, method: str, path: str, needed: bool
) -> None:
    assert needs_token(auth, method, path, "/healthd") is needed


TOKEN = SecretStr("t0ken")
HEADERS = {
    "the right bearer token passes": ("Bearer t0ken", TOKEN, True),
    "the scheme is case-insensitive": ("bearer t0ken", TOKEN, True),
    "a wrong token fails": ("Bearer t0kem", TOKEN, False),
    "a prefix of the token fails": ("Bearer t0k", TOKEN, False),
    "no header fails": (None, TOKEN, False),
    "another scheme fails": ("Basic t0ken", TOKEN, False),
    "no configured token accepts nothing": ("Bearer ", None, False),
    "an empty configured token accepts nothing": ("Bearer ", SecretStr(""), False),
}


@pytest.mark.parametrize(("header", "token", "ok"), HEADERS.values(), ids=HEADERS.keys())
def test_a_bearer_header_is_checked(header: str | None, token: SecretStr | None, ok: bool) -> None:
    assert bearer_ok(header, token) is ok


def test_the_default_admin_address_is_loopback_and_writes_need_a_token() -> None:
    admin = AdminConfig()
    assert admin.host == "127.0.0.1"
    assert (admin.auth, admin.token) == ("write", None)


def test_the_token_never_shows_in_the_settings_repr() -> None:
    admin = AdminConfig.model_validate({"token": "sup3r-secret"})
    assert "sup3r-secret" not in repr(admin)
    assert "sup3r-secret" not in str(admin.model_dump())


def _outside_address() -> str | None:
    """A non-loopback address of this machine (the route a packet would take; nothing is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address: str = s.getsockname()[0]
    return None if address.startswith("127.") else address


async def test_a_daemon_on_the_default_host_cannot_be_reached_from_outside(
    tmp_path: Path,
) -> None:
    outside = _outside_address()
    if outside is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    async with admin_daemon(tmp_path, listen=f"{AdminConfig().host}:0") as run:
        await run.wait_for("daemon.started")
        admin = run.daemon.supervision.admin
        assert admin is not None
        host, port = admin.listen.rsplit(":", 1)
        assert host == "127.0.0.1"
        with socket.create_connection(("127.0.0.1", int(port)), timeout=5):
            pass
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((outside, int(port)), timeout=5).close()


ALIAS = {
    "the deprecated reports_token alone becomes the token": (
        {"reports_token": "r"},
        "r",
        True,
    ),
    "both, the same, are one token": ({"reports_token": "t", "token": "t"}, "t", True),
    "the token alone is the token, with no notice": ({"token": "t"}, "t", False),
    "neither leaves writes closed": ({}, None, False),
}


@pytest.mark.parametrize(("admin", "token", "noticed"), ALIAS.values(), ids=ALIAS.keys())
def test_reports_token_is_a_deprecated_alias_of_the_token(
    admin: dict[str, str], token: str | None, noticed: bool
) -> None:
    config = load_config_text(
        yaml.safe_dump({"admin": admin, "providers": {"local": {"kind": "ollama"}}}),
        source="healthd.yaml",
        environ={},
    )
    got = config.admin.token
    assert (None if got is None else got.get_secret_value()) == token
    deprecation = [n for n in config.notices() if "reports_token" in n]
    assert deprecation == (
        ["admin.reports_token: deprecated: it is admin.token under its old name; rename it"]
        if noticed
        else []
    )


def test_a_reports_token_that_differs_from_the_token_is_refused_in_one_line() -> None:
    text = "admin: {token: tok-AAA, reports_token: tok-BBB}\nproviders: {local: {kind: ollama}}\n"
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, source="healthd.yaml", environ={})
    rendered = caught.value.render()
    assert rendered == (
        "healthd.yaml:1: admin.reports_token: deprecated alias of admin.token, and the two "
        "differ: one token guards every write; keep only admin.token"
    )
    assert "tok-AAA" not in rendered
    assert "tok-BBB" not in rendered


REPORTS = {
    "the deprecated alias guards reports": ("reports_token: tok-r", None, 401),
    "the alias's token is the bearer token": ("reports_token: tok-r", "tok-r", 200),
    "the token guards reports like any write": ("token: tok-t", None, 401),
    "auth none opens reports as it opens every write": ("auth: none", None, 200),
}


@pytest.mark.parametrize(("admin", "bearer", "status"), REPORTS.values(), ids=REPORTS.keys())
async def test_reports_have_the_one_auth_path_of_every_write(
    tmp_path: Path, admin: str, bearer: str | None, status: int
) -> None:
    async with Simulator(fleet()) as sim:
        text = admin_config(sim.base_url, f"sqlite:///{tmp_path}/state.db").replace(
            'admin: {listen: "127.0.0.1:0"}', f'admin: {{listen: "127.0.0.1:0", {admin}}}'
        )
        path = tmp_path / "healthd.yaml"
        path.write_text(text)
        with capture_logs() as logs:
            run = Running(Daemon(load_config(path, environ={}), environ={}), logs, sim)
            try:
                await run.wait_for("daemon.started")
                headers = {} if bearer is None else {"authorization": f"Bearer {bearer}"}
                batch = {"reports": [{"model": "a.gpt-4o", "outcome": "ok", "at": 1.0}]}
                async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
                    answer = await client.post(
                        f"{admin_url(run)}/v1/reports", json=batch, headers=headers
                    )
                used = run.daemon.state.providers["a"].total_quota_used
            finally:
                await run.stop()
    assert answer.status_code == status
    assert used == (1 if status == 200 else 0)  # a refused batch changed nothing
