"""Each bad configuration in tests/config/invalid/, through the command line: exit 2 and the
fixture's exact lines on stderr, nothing on stdout."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_processes import run_tool

INVALID = Path(__file__).parent / "invalid"
CASES = sorted(INVALID.glob("*.yaml"))
NOTHING_TO_PROBE = ["empty", "comment_only", "no_providers"]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_validate_exits_2_with_the_expected_lines(path: Path) -> None:
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
    done = run_tool([command, "-c", f"{name}.yaml"], cwd=INVALID)
    expected = (INVALID / f"{name}.expected").read_text()
    assert (done.code, done.stdout, done.stderr) == (2, "", expected)
