"""Throwaway servers for outage tests: a redis-server and a PostgreSQL cluster to kill and restart.

Used through the fixtures in conftest.py; importable by tests for the types.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

__all__ = [
    "PostgresServer",
    "RedisServer",
    "RedisServerFactory",
    "free_port",
    "postgres_bindir",
    "redis_ping",
    "serve_app",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_ping(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when a Redis server answers PING there."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


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
        while not redis_ping("127.0.0.1", self.port, 0.2):
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


def postgres_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


class PostgresServer:
    """A throwaway PostgreSQL cluster on a port of its own; crash it, start it again.

    PostgreSQL refuses to run as root, so under root it runs as the `postgres` user.
    """

    def __init__(self, bindir: Path, workdir: Path, port: int) -> None:
        self.port = port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        self._bindir, self._workdir = bindir, workdir
        self._data = workdir / "data"

    def _run(self, *args: str) -> None:
        command = [str(self._bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run("initdb", "-D", str(self._data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self._workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self._data),
            "-o",
            options,
            "-w",
            "-l",
            str(self._workdir / "log"),
            "start",
        )

    def kill(self) -> None:
        """Stop it the hard way (`immediate`: no checkpoint, connections cut, like a crash)."""
        self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")


@contextlib.asynccontextmanager
async def serve_app(app: web.Application) -> AsyncIterator[str]:
    """Serve an aiohttp app on a free 127.0.0.1 port; yields its base URL `http://127.0.0.1:P`."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
