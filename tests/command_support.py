"""The command line's entry point called in this process, as the installed command calls it.

A command run as a process spends most of its time starting Python and importing; tests whose
point is a command's output and exit code for one input call `main` here instead, and each
command keeps a test that runs it as a real process (see tests/cli/test_cli_cases.py).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from modelmesh_healthd.cli import main


@dataclass(frozen=True)
class Exited:
    """How `main` ended: its exit code and what it wrote on each stream."""

    code: int
    stdout: str
    stderr: str


def call_main(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Exited:
    """`modelmesh-healthd ARGV` in this process, in `cwd`, with exactly the environment `env`
    (default: this process's), both streams captured.

    The working directory and the environment belong to the whole process: call this from one
    thread at a time (an async test may call it through `asyncio.to_thread`).
    """
    out, err = io.StringIO(), io.StringIO()
    environ = dict(os.environ if env is None else env)
    with (
        mock.patch.dict(os.environ, environ, clear=True),
        contextlib.chdir(cwd or Path.cwd()),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's --help, --version and usage errors
            code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    return Exited(code, out.getvalue(), err.getvalue())
