"""Shared fixtures for tests that need real services (Redis, PostgreSQL, a redis-server binary).

A missing service skips its tests with the reason; with MODELMESH_HEALTHD_REQUIRE_SERVICES=1 (CI
sets it) the same condition fails them instead, so CI can never go green by skipping.
Point the tests elsewhere with MODELMESH_HEALTHD_TEST_REDIS_URL / _POSTGRES_URL (loopback only).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

REQUIRE_SERVICES = os.environ.get("MODELMESH_HEALTHD_REQUIRE_SERVICES") == "1"
REDIS_URL = os.environ.get("MODELMESH_HEALTHD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "MODELMESH_HEALTHD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def service_unavailable(reason: str) -> NoReturn:
    """Skip, or fail when the environment requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(
            f"{reason} (MODELMESH_HEALTHD_REQUIRE_SERVICES=1 turns this skip into a failure)"
        )
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _redis_ping(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_base_url() -> str:
    """The shared Redis server's URL, checked to answer PING."""
    parts = urlsplit(REDIS_URL)
    if not _redis_ping(parts.hostname or "127.0.0.1", parts.port or 6379):
        service_unavailable(f"no Redis answering at {REDIS_URL}")
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
        service_unavailable(f"no PostgreSQL accepting connections at {POSTGRES_URL}: {exc}")
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_base_url: str) -> Iterator[str]:
    """A store URL with a schema of its own, dropped afterwards."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{postgres_base_url}?schema={schema}"
    with psycopg.connect(postgres_base_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


class RedisServer:
    """A throwaway redis-server (no persistence) on a port of its own; kill it, restart it."""

    def __init__(self, binary: str, port: int, workdir: Path) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._binary, self._workdir = binary, workdir
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or restart) the server and wait until it answers PING."""
        if self._proc is not None and self._proc.poll() is None:
            return
        self._proc = subprocess.Popen(
            [
                self._binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10.0
        while not _redis_ping("127.0.0.1", self.port, 0.2):
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self.kill()
                raise RuntimeError(f"redis-server did not come up on port {self.port}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL the server (an outage, not a shutdown) and reap it."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()


class RedisServerFactory:
    """Starts RedisServers; every one is killed at the end of the test."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self._binary, self._workdir = binary, workdir
        self.servers: list[RedisServer] = []

    def __call__(self) -> RedisServer:
        """A started server on a free port."""
        server = RedisServer(self._binary, free_port(), self._workdir)
        self.servers.append(server)
        server.start()
        return server


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
