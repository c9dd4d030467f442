"""Each bad configuration in tests/config/invalid/ is paired with the exact lines it produces."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelmesh_healthd.config import ConfigError, load_config_text

INVALID = Path(__file__).parent / "invalid"
CASES = sorted(INVALID.glob("*.yaml"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_invalid_config_is_rejected_with_its_expected_message(path: Path) -> None:
    expected = path.with_suffix(".expected").read_text().rstrip("\n")
    with pytest.raises(ConfigError) as caught:
        load_config_text(path.read_text(), source=path.name, environ={})
    assert caught.value.render() == expected


def test_every_invalid_fixture_has_an_expected_message() -> None:
    assert CASES
    for path in CASES:
        assert path.with_suffix(".expected").is_file(), path.name


def test_every_issue_is_one_line_naming_file_line_and_key_path() -> None:
    for path in CASES:
        for line in path.with_suffix(".expected").read_text().splitlines():
            file_and_line, key_path, message = line.split(": ", 2)
            assert file_and_line.startswith(path.name + ":")
            assert key_path
            assert message


def test_every_structural_problem_is_reported_in_one_pass() -> None:
    text = """
providers:
  openai: {kind: openai, api_key: sk-x, base_ur: https://x}
  anthropic: {kind: anthropic}
schedule: {interval: soon}
"""
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, source="c.yaml", environ={})
    assert caught.value.render().splitlines() == [
        "c.yaml:3: providers.openai.base_ur: unknown key (did you mean 'base_url'?)",
        "c.yaml:4: providers.anthropic.api_key: required for kind anthropic (the probe proves it)",
        "c.yaml:5: schedule.interval: 'soon' is not a duration (use e.g. 30s, 2m, 1h30m, 500ms)",
    ]
