"""The command-line tool as a real process, with the peak memory the kernel measured for it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any


@dataclass(frozen=True)
class Finished:
    """How a process ended: exit code, what it wrote, and its peak resident memory."""

    code: int
    stdout: str
    stderr: str
    peak_rss_mib: float


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without what would steer the tool elsewhere."""
    drop = ("MODELMESH_HEALTHD_CONFIG", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("MMH_TEST")}
    return {**env, **(extra or {})}


# The kernel's peak resident size of a child (wait4) carries over the high-water mark of the process
# that forked it: started straight from a pytest worker grown to 130 MiB, a 50 MiB tool measures
# 130. This small launcher starts the tool from its own small memory, waits for it, and writes the
# tool's exit code and peak (KiB) to the file named first; its exit code is the tool's.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
code = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as report:
    report.write(f"{code} {usage.ru_maxrss}")
sys.exit(code if code >= 0 else 128 - code)
"""


def start(args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> Started:
    """Start `modelmesh-healthd ARGS` in `cwd`."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Started.finish
    err = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Started.finish
    handle, report = tempfile.mkstemp(prefix="healthd-usage-")
    os.close(handle)
    tool = [sys.executable, "-m", "modelmesh_healthd", *args]
    proc = subprocess.Popen(
        [sys.executable, "-S", "-c", _LAUNCHER, report, *tool],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=err,
        env=environment(env),
        start_new_session=True,  # a timeout kills the launcher and the tool together
    )
    return Started(proc, out, err, Path(report))


@dataclass
class Started:
    """A running tool process; `finish` reaps it with its resource usage."""

    proc: subprocess.Popen[bytes]
    out: IO[bytes]
    err: IO[bytes]
    report: Path

    def finish(self, within: float = 60.0) -> Finished:
        """Wait (at most `within` seconds, then kill it and fail) and read what it wrote."""
        try:
            self.proc.wait(within)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError(f"still running after {within:g}s: {self.proc.args}") from None
        finally:
            texts = []
            for handle in (self.out, self.err):
                handle.seek(0)
                texts.append(handle.read().decode())
                handle.close()
            report = self.report.read_text()
            self.report.unlink()
        code, peak_kib = (int(field) for field in report.split())
        return Finished(code, texts[0], texts[1], peak_kib / 1024)


def run_tool(
    args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None, within: float = 60.0
) -> Finished:
    """Run `modelmesh-healthd ARGS` in `cwd` to its end."""
    return start(args, cwd, env).finish(within)


class DaemonProcess:
    """`modelmesh-healthd run` as a process; its JSON log lines read as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            self.events.append(json.loads(line))  # every line must be one JSON object

    def named(self, name: str) -> list[dict[str, Any]]:
        """The events called `name`, oldest first."""
        return [e for e in self.events if e["event"] == name]

    async def next_event(self, name: str, within: float = 30.0) -> dict[str, Any]:
        """The first event called `name` logged from now on."""
        seen = len(self.named(name))
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = self.named(name)
            if len(found) > seen:
                return found[seen]
            if self.proc.returncode is not None:
                raise AssertionError(f"exited {self.proc.returncode} before {name}")
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {name} within {within:g}s: {[e['event'] for e in self.events]}")

    def memory_kib(self) -> tuple[int, int]:
        """(resident now, peak resident) of the process, from /proc."""
        fields = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines()
        )
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


@asynccontextmanager
async def daemon_process(config: Path) -> AsyncIterator[DaemonProcess]:
    """`modelmesh-healthd run -c NAME` in the configuration's directory, killed afterwards."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "modelmesh_healthd",
        "run",
        "-c",
        config.name,
        cwd=config.parent,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=environment(),
    )
    daemon = DaemonProcess(proc)
    try:
        yield daemon
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await daemon._reader
