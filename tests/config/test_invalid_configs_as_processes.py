"""Each bad configuration in tests/config/invalid/, through the command line: exit 2 and the
fixture's exact lines on stderr, nothing on stdout.

`validate` runs every case through the command line's entry point in this process (the same
`main` the installed command calls, with its exit code and both streams); one case also runs as a
real process, to show the entry point, the exit status and the streams are those of the command.
`check` and `run` refuse a configuration with nothing to probe: each through the entry point
for every such case, and each as a real process for one of them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from config_processes import environment, run_tool

from command_support import call_main
from modelmesh_healthd.cli import main

INVALID = Path(__file__).parent / "invalid"
CASES = sorted(INVALID.glob("*.yaml"))
NOTHING_TO_PROBE = ["empty", "comment_only", "no_providers"]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_validate_exits_2_with_the_expected_lines(
    path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(INVALID)
    for name in set(os.environ) - set(environment()):
        monkeypatch.delenv(name)  # the environment the processes below get
    code = main(["validate", path.name])
    out, err = capsys.readouterr()
    assert (code, out, err) == (2, "", path.with_suffix(".expected").read_text())


def test_validate_as_a_process_exits_2_with_the_expected_lines() -> None:
    path = INVALID / "misspelt_key.yaml"
    done = run_tool(["validate", path.name], cwd=INVALID)
    assert (done.code, done.stdout, done.stderr) == (
        2,
        "",
        path.with_suffix(".expected").read_text(),
    )


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize("name", NOTHING_TO_PROBE)
def test_check_and_run_refuse_a_configuration_with_nothing_to_probe(
    name: str, command: str
) -> None:
    done = call_main([command, "-c", f"{name}.yaml"], cwd=INVALID, env=environment())
    expected = (INVALID / f"{name}.expected").read_text()
    assert (done.code, done.stdout, done.stderr) == (2, "", expected)


@pytest.mark.parametrize("command", ["check", "run"])
def test_check_and_run_as_processes_refuse_a_configuration_with_nothing_to_probe(
    command: str,
) -> None:
    done = run_tool([command, "-c", "empty.yaml"], cwd=INVALID)
    expected = (INVALID / "empty.expected").read_text()
    assert (done.code, done.stdout, done.stderr) == (2, "", expected)
