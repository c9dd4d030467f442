"""Shared fixtures for tests that need real services (Redis, PostgreSQL, a redis-server binary).

A missing service skips its tests with the reason; with MODELMESH_HEALTHD_REQUIRE_SERVICES=1 (CI
sets it) the same condition fails them instead, so CI can never go green by skipping.
Point the tests elsewhere with MODELMESH_HEALTHD_TEST_REDIS_URL / _POSTGRES_URL (loopback only).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

from modelmesh_healthd.storage.urls import redact_url
from service_support import (
    PostgresServer,
    RedisServerFactory,
    free_port,
    postgres_bindir,
    redis_ping,
)

REQUIRE_SERVICES = os.environ.get("MODELMESH_HEALTHD_REQUIRE_SERVICES") == "1"
REDIS_URL = os.environ.get("MODELMESH_HEALTHD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "MODELMESH_HEALTHD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


# Under pytest-xdist (`make test`), the modules whose tests wait on the wall clock (leases, process
# start-ups, outages) are handed out first, longest first, so that they wait while the short
# tests run on the other workers instead of making the tail of the run. The order is by the
# longest test of each module in a serial run; a module missing from the list only starts later.
SLOW_FIRST = (
    "replicas/test_replica_processes.py",
    "replicas/test_store_restart.py",
    "replicas/test_store_return.py",
    "replicas/test_quorum_sites.py",
    "replicas/test_canary_takeover.py",
    "daemon/test_history_replicas.py",
    "cli/test_cli_processes.py",
    "config/test_hostile_reload.py",
    "cli/test_cli_cases.py",
    "daemon/test_status_page_browser.py",
    "storage/test_crash.py",
    "state/test_properties.py",
    "replicas/test_replica_operations.py",
    "daemon/test_overrides_process.py",
    "replicas/test_standby.py",
    "daemon/test_notify_process.py",
    "integrations/test_end_to_end.py",
    "daemon/test_daemon_in_process.py",
    "daemon/test_health_command.py",
    "config/test_hostile_input.py",
    "daemon/test_daemon_process.py",
    "config/test_invalid_configs_as_processes.py",
    "config/test_modelmesh_fixtures.py",
)

# Fleets of 300 providers on three replica processes keep much of a core busy and assert a probe
# rate and a takeover time. Beside three other xdist workers on a 2-core machine they missed both
# (5-6 probes in 7 intervals, takeovers after 10 s instead of 6), so they carry the `fleet` mark
# and `make test` runs them after the parallel run, one at a time, with nothing else running.
FLEET_300 = (
    "test_three_replicas_probe_each_of_300_providers_once_per_interval",
    "test_a_killed_replicas_providers_resume_within_one_ttl_from_the_stored_state",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fleet: a replica fleet that needs the machine to itself")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if getattr(item, "originalname", item.name) in FLEET_300:
            item.add_marker(pytest.mark.fleet)
    if not hasattr(config, "workerinput"):
        return  # not an xdist worker: the files' own order
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}

    def order(item: pytest.Item) -> int:
        relative = Path(str(item.path)).relative_to(Path(__file__).parent).as_posix()
        return rank.get(relative, len(rank))

    items.sort(key=order)  # stable: each module keeps its own order


def service_unavailable(reason: str) -> NoReturn:
    """Skip, or fail when the environment requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(
            f"{reason} (MODELMESH_HEALTHD_REQUIRE_SERVICES=1 turns this skip into a failure)"
        )
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_base_url() -> str:
    """The shared Redis server's URL, checked to answer PING."""
    parts = urlsplit(REDIS_URL)
    if not redis_ping(parts.hostname or "127.0.0.1", parts.port or 6379):
        service_unavailable(f"no Redis answering at {redact_url(REDIS_URL)}")
    return REDIS_URL


@pytest.fixture
def redis_url(redis_base_url: str) -> Iterator[str]:
    """A store URL with a key prefix of its own; every key under it is deleted afterwards."""
    import redis

    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    yield f"{redis_base_url}?prefix={prefix}"
    client = redis.Redis.from_url(redis_base_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    """The shared PostgreSQL server's URL, checked to accept a connection."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        service_unavailable(
            f"no PostgreSQL accepting connections at {redact_url(POSTGRES_URL)}: {exc}"
        )
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_base_url: str) -> Iterator[str]:
    """A store URL with a schema of its own, dropped afterwards."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{postgres_base_url}?schema={schema}"
    with psycopg.connect(postgres_base_url, autocommit=True) as conn:
        # A test that failed with a session still open must not hang the run here.
        conn.execute("SET lock_timeout = '10s'")
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def redis_server_factory(tmp_path: Path) -> Iterator[RedisServerFactory]:
    """Start private redis-servers (needs the redis-server binary)."""
    binary = shutil.which("redis-server")
    if binary is None:
        service_unavailable("no redis-server binary on PATH")
    factory = RedisServerFactory(binary, tmp_path)
    yield factory
    for server in factory.servers:
        server.kill()


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL server (needs the server binaries and, under root, runuser)."""
    bindir = postgres_bindir()
    if bindir is None:
        service_unavailable("no PostgreSQL server binaries (initdb, pg_ctl)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        service_unavailable("running as root without runuser: cannot start PostgreSQL")
    workdir = Path(tempfile.mkdtemp(prefix="healthd-pg-"))
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
    server = PostgresServer(bindir, workdir, free_port())
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.kill()
        shutil.rmtree(workdir, ignore_errors=True)
