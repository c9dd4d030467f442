"""Each command line in tests/cli/cases/ is paired with its exact exit code and output.

A case is NAME.cmd (the arguments, run in an empty directory) and NAME.expected (`exit N`, then
stdout, then stderr). Regenerate one after a deliberate change with
`CLI_CASES_WRITE=1 pytest tests/cli/test_cli_cases.py -k NAME`, and read the diff.

A case runs through the command line's entry point in this process (the same `main` the installed
command calls), except the cases in AS_PROCESSES: one per command, run as real processes, to show
that the entry point, the exit status and the streams are those of the installed command.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_run import call_cli, case_args, run_cli

CASES_DIR = Path(__file__).parent / "cases"
CASES = sorted(CASES_DIR.glob("*.cmd"))
AS_PROCESSES = {
    "check_demo_needs_no_keys",
    "demo_in_memory_prints_the_state_it_ended_with",
    "run_names_the_file_of_a_bad_store_url",
    "status_without_arguments_reads_the_default_store",
    "validate_takes_the_file_from_the_environment",
    "version_short_flag",
}


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_the_command_exits_and_prints_exactly_what_its_case_says(
    path: Path, tmp_path: Path
) -> None:
    args, env = case_args(path.read_text(), CASES_DIR)
    ran = (run_cli if path.stem in AS_PROCESSES else call_cli)(args, tmp_path, env)
    expected = path.with_suffix(".expected")
    if os.environ.get("CLI_CASES_WRITE") == "1":
        expected.write_text(ran.render())
    assert ran.render() == expected.read_text()


def test_every_case_has_its_expected_output() -> None:
    assert CASES
    for path in CASES:
        assert path.with_suffix(".expected").is_file(), path.name


def test_each_command_has_a_case_run_as_a_process() -> None:
    commands = {
        case_args((CASES_DIR / f"{name}.cmd").read_text(), CASES_DIR)[0][0] for name in AS_PROCESSES
    }
    assert commands == {"check", "demo", "run", "status", "validate", "-V"}
