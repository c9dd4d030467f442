"""Run `modelmesh-healthd` as a process and make its output comparable line for line.

Only what cannot repeat is normalized: the temporary directory, the checkout, the simulator's
port, latencies and ages. Everything else must match exactly.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from command_support import call_main

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"


@dataclass(frozen=True)
class Ran:
    """A finished process: exit code and both streams, normalized."""

    code: int
    stdout: str
    stderr: str

    def render(self) -> str:
        """The form .expected files are written in."""
        return f"exit {self.code}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def normalize(text: str, cwd: Path) -> str:
    """Replace what differs from run to run with a fixed word."""
    text = text.replace(str(cwd.resolve()).lstrip("/"), "{tmp}").replace(str(CONFIG), "{config}")
    text = text.replace(str(Path(__file__).parent / "cases"), "{cases}")
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    text = re.sub(r"\b\d+ ms\b", "N ms", text)
    text = re.sub(r"\b\d+s ago\b", "Ns ago", text)
    text = re.sub(r"epoch \d+\)", "epoch N)", text)
    text = re.sub(r"(?<=[ '])[\w.-]+:\d+:(?=\w)", "HOST:PID:", text)  # writer ids
    # Column widths follow the longest cell, and a normalized cell may be shorter or longer;
    # indentation is kept.
    return "\n".join(re.sub(r"(?<=\S) {2,}", "  ", line) for line in text.split("\n"))


def _environment(env: dict[str, str] | None) -> dict[str, str]:
    """This process's environment without the caller's config, NO_COLOR or state directory."""
    drop = ("MODELMESH_HEALTHD_CONFIG", "NO_COLOR", "STATE_DIRECTORY")
    environ = {k: v for k, v in os.environ.items() if k not in drop}
    return {**environ, "COLUMNS": "100", **(env or {})}


def call_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Ran:
    """As `run_cli`, through the entry point in this process (see tests/command_support.py)."""
    done = call_main(args, cwd=cwd, env=_environment(env))
    return Ran(done.code, normalize(done.stdout, cwd), normalize(done.stderr, cwd))


def run_cli(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 90.0
) -> Ran:
    """`python -m modelmesh_healthd ARGS` in `cwd`, without the caller's config or NO_COLOR."""
    proc = subprocess.run(
        [sys.executable, "-m", "modelmesh_healthd", *args],
        cwd=cwd,
        env=_environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Ran(proc.returncode, normalize(proc.stdout, cwd), normalize(proc.stderr, cwd))


def case_args(text: str, cases: Path) -> tuple[list[str], dict[str, str]]:
    """A .cmd file: `args: ...` (shell words) and any `env: NAME=value` lines; `#` lines are
    comments. `{config}` is the checkout's config/, `{cases}` the directory of the cases."""
    args: list[str] = []
    env: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(": ")
        value = value.replace("{config}", str(CONFIG)).replace("{cases}", str(cases))
        if key == "args":
            args = shlex.split(value)
        elif key == "env":
            name, _, val = value.partition("=")
            env[name] = val
    return args, env
