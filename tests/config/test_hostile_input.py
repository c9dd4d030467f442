"""Hostile input never hangs or sinks the tool: one line, exit 2, bounded memory, every command.

Each case runs `validate`, `check` and `run` as real processes at once; the kernel's account of
each child (wait4) gives its peak resident memory.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from config_processes import start
from hostile import CASES, Hostile, wrong_values

PEAK_RSS_MIB = 120  # the tool itself takes about 40-55 MiB; a bomb would take gigabytes

COMMANDS = (["validate", "c.yaml"], ["check", "-c", "c.yaml"], ["run", "-c", "c.yaml"])


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_hostile_file_ends_every_command_with_one_line_and_exit_2(
    case: Hostile, tmp_path: Path
) -> None:
    case.build(tmp_path)
    line = case.line.replace("{dir}", str(tmp_path.resolve()))
    started = [start(args, tmp_path) for args in COMMANDS]
    finished = [process.finish(within=60.0) for process in started]  # all reaped, then judged
    for args, done in zip(COMMANDS, finished, strict=True):
        assert (done.code, done.stdout, done.stderr) == (2, "", line + "\n"), args[0]
        assert done.peak_rss_mib < PEAK_RSS_MIB, (args[0], done.peak_rss_mib)


def test_a_fleet_of_wrong_values_ends_with_the_first_thousand_problems(tmp_path: Path) -> None:
    # One error per value: unbounded, they would take gigabytes (about 500 bytes each).
    wrong_values(tmp_path)
    done = start(["validate", "c.yaml"], tmp_path).finish(within=120.0)
    lines = done.stderr.splitlines()
    assert (done.code, done.stdout, len(lines)) == (2, "", 1001)
    assert (
        lines[0]
        == "c.yaml:2: providers.p0: Input should be a dictionary or an instance of ProviderConfig"
    )
    assert lines[-1] == (
        "c.yaml: (top level): more problems not shown: only the first 1,000 are reported"
    )
    assert done.peak_rss_mib < 2 * PEAK_RSS_MIB, done.peak_rss_mib
