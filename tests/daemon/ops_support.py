"""What the operations tests share: a notify socket read as systemd reads it, daemon processes
with a chosen environment, configurations with the admin endpoint on, and the `health` command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from daemon_support import KEYS, Running, config_text, fleet
from structlog.testing import capture_logs

from command_support import call_main
from modelmesh_healthd.config import load_config
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.simulator import Simulator


def admin_config(
    base_url: str,
    store_url: str,
    *,
    listen: str | None = "127.0.0.1:0",
    stall: bool = False,
) -> str:
    """`daemon_support.config_text` with the admin endpoint on `listen` (None: disabled).

    With `stall`: one probe at a time, provider `a` allowed to hang for a minute, and a stall
    declared after 1 s, so that `a` hanging stalls the scheduler (everyone else waits for the
    only slot) the way a probe stuck past its deadline would.
    """
    text = config_text(base_url, store_url)
    if listen is not None:
        text = text.replace("admin: {enabled: false}", f'admin: {{listen: "{listen}"}}')
    if stall:
        text = text.replace("  instance: test\n", "  instance: test\n  concurrency: 1\n")
        text = text.replace("  drain_timeout: 2s\n", "  drain_timeout: 0.5s\n")  # hung probe
        text = text.replace("  summary_interval: 0\n", "  summary_interval: 0\n  stall_after: 1s\n")
        text = text.replace(
            f"api_key: {KEYS['a']}}}", f"api_key: {KEYS['a']}, schedule: {{timeout: 60s}}}}"
        )
    return text


@asynccontextmanager
async def admin_daemon(
    tmp_path: Path,
    *,
    store_url: str | None = None,
    stall: bool = False,
    environ: Mapping[str, str] | None = None,
    listen: str | None = "127.0.0.1:0",
) -> AsyncIterator[Running]:
    """The simulator and an in-process daemon with its admin endpoint on `listen` (default: a
    free port; None: disabled)."""
    async with Simulator(fleet()) as sim:
        store = store_url or f"sqlite:///{tmp_path}/state.db"
        path = tmp_path / "healthd.yaml"
        path.write_text(admin_config(sim.base_url, store, listen=listen, stall=stall))
        env = dict(environ or {})
        with capture_logs() as logs:
            daemon = Daemon(load_config(path, environ=env), environ=env)
            run = Running(daemon, logs, sim)
            try:
                yield run
            finally:
                if not run.task.done():
                    await run.stop()


def admin_url(run: Running) -> str:
    """http://host:port of a running daemon's admin endpoint."""
    admin = run.daemon.supervision.admin
    assert admin is not None, "the admin endpoint is not running"
    return f"http://{admin.listen}"


# --- the notify socket ---------------------------------------------------------------------


class NotifySocket:
    """An AF_UNIX datagram socket that receives sd_notify messages, as systemd's does."""

    def __init__(self, *, abstract: bool = False) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self._dir: str | None = None
        if abstract:
            name = f"modelmesh-healthd-test-{uuid.uuid4().hex}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            # Not under tmp_path: a socket path must fit in 108 bytes.
            self._dir = tempfile.mkdtemp(prefix="sdn-")
            self.address = os.path.join(self._dir, "notify")
            self.sock.bind(self.address)
        self.messages: list[tuple[float, dict[str, str]]] = []
        """(CLOCK_MONOTONIC at receipt, the message's KEY=VALUE fields)."""

    def close(self) -> None:
        self.sock.close()
        if self._dir is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.address)
                os.rmdir(self._dir)

    def drain(self) -> None:
        """Read what has arrived, without waiting."""
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            self.messages.append((time.monotonic(), _fields(data)))

    def with_key(self, key: str, value: str | None = None) -> list[dict[str, str]]:
        self.drain()
        return [m for _, m in self.messages if key in m and (value is None or m[key] == value)]

    async def wait_for(
        self, key: str, value: str | None = None, *, count: int = 1, within: float = 20.0
    ) -> dict[str, str]:
        """The `count`-th message carrying `key` (= `value`), waiting up to `within` seconds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = self.with_key(key, value)
            if len(found) >= count:
                return found[count - 1]
            await asyncio.sleep(0.01)
        raise AssertionError(
            f"no {key}={value} (x{count}) within {within}s; got {[m for _, m in self.messages]}"
        )


def _fields(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in data.decode().split("\n"):
        key, _, value = line.partition("=")
        out[key] = value
    return out


@contextmanager
def notify_socket(*, abstract: bool = False) -> Iterator[NotifySocket]:
    sock = NotifySocket(abstract=abstract)
    try:
        yield sock
    finally:
        sock.close()


# --- daemon processes ----------------------------------------------------------------------


class DaemonProcess:
    """`modelmesh-healthd run` in a subprocess with a chosen environment; stdout read as JSON."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            self.events.append(json.loads(line))  # every line must be one JSON object

    def named(self, name: str, **fields: Any) -> list[dict[str, Any]]:
        """Events called `name` whose fields include `fields`."""
        return [
            e
            for e in self.events
            if e["event"] == name and all(e.get(k) == v for k, v in fields.items())
        ]

    async def wait_for(
        self, name: str, within: float = 20.0, *, after: int = 0, **fields: Any
    ) -> dict[str, Any]:
        """The first event `name` with `fields` past the first `after` of them."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = self.named(name, **fields)[after:]
            if found:
                return found[0]
            if self.proc.returncode is not None:
                raise AssertionError(f"exited {self.proc.returncode} before {name}")
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out waiting for {name}: {[e['event'] for e in self.events]}")

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    async def finish(self, within: float = 20.0) -> int:
        code = await asyncio.wait_for(self.proc.wait(), within)
        await self._reader
        return code


@asynccontextmanager
async def daemon_process(
    config: Path, env: Mapping[str, str] | None = None
) -> AsyncIterator[DaemonProcess]:
    """Run the daemon on `config` with `env` added to this process's environment."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "modelmesh_healthd",
        "run",
        "-c",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**environ, **(env or {})},
    )
    process = DaemonProcess(proc)
    try:
        yield process
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def _health_environment(env: Mapping[str, str] | None) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k != "MODELMESH_HEALTHD_CONFIG"}
    return {**environ, **(env or {})}


async def health(*args: str, env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """`modelmesh-healthd health ARGS` through the entry point in this process, on a thread of
    its own (so the loop an in-process daemon answers on keeps running); returns its exit code
    and its output (both streams, as `health_process` reads them)."""
    done = await asyncio.to_thread(call_main, ["health", *args], env=_health_environment(env))
    return done.code, done.stdout + done.stderr


async def health_process(*args: str, env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """Run `modelmesh-healthd health ARGS` as a process; returns its exit code and its output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "modelmesh_healthd",
        "health",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=_health_environment(env),
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()
