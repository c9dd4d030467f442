"""Each command line in tests/cli/cases/ is paired with its exact exit code and output.

A case is NAME.cmd (the arguments, run in an empty directory) and NAME.expected (`exit N`, then
stdout, then stderr). Regenerate one after a deliberate change with
`CLI_CASES_WRITE=1 pytest tests/cli/test_cli_cases.py -k NAME`, and read the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_run import case_args, run_cli

CASES_DIR = Path(__file__).parent / "cases"
CASES = sorted(CASES_DIR.glob("*.cmd"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_the_command_exits_and_prints_exactly_what_its_case_says(
    path: Path, tmp_path: Path
) -> None:
    args, env = case_args(path.read_text(), CASES_DIR)
    ran = run_cli(args, tmp_path, env)
    expected = path.with_suffix(".expected")
    if os.environ.get("CLI_CASES_WRITE") == "1":
        expected.write_text(ran.render())
    assert ran.render() == expected.read_text()


def test_every_case_has_its_expected_output() -> None:
    assert CASES
    for path in CASES:
        assert path.with_suffix(".expected").is_file(), path.name
