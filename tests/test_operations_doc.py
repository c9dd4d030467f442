"""docs/operations.md and the code agree: configuration reference, metrics, alert rules,
commands and event names. promtool, when installed, checks the rules as Prometheus would."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from pathlib import Path

from modelmesh_healthd.cli import _parser
from modelmesh_healthd.config import load_config_text
from modelmesh_healthd.config.reference import render_reference
from modelmesh_healthd.daemon.events import EVENT_CATALOGUE
from modelmesh_healthd.daemon.metrics import CATALOGUE
from tool_support import tool

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "operations.md"
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"


def _between(start: str, end: str) -> str:
    text = DOC.read_text()
    return text[text.index(start) + len(start) : text.index(end)]


def _section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"\n## {title}\n")
    following = text.find("\n## ", start + 1)
    return text[start : following if following != -1 else len(text)]


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.DOTALL)


def _promtool() -> str:
    return tool("promtool")


def test_the_configuration_reference_is_the_generated_one() -> None:
    documented = _between("<!-- config-reference:start -->\n", "<!-- config-reference:end -->")
    assert documented.strip() == render_reference().strip(), (
        "regenerate: modelmesh-healthd schema --markdown, pasted between the "
        "config-reference markers of docs/operations.md"
    )


def test_the_metrics_table_lists_every_metric_with_its_type_and_labels() -> None:
    rows = re.findall(
        r"^\| `(modelmesh_healthd_\w+)` \| (\w+) \| ([^|]*) \|", _section("Metrics"), re.MULTILINE
    )
    documented = {
        (name, kind, tuple(re.findall(r"`(\w+)`", labels))) for name, kind, labels in rows
    }
    assert documented == {(spec.name, spec.kind, spec.labels) for spec in CATALOGUE}


def test_the_documented_alert_rules_are_the_shipped_file() -> None:
    block = _between("<!-- alerts:start -->\n```yaml\n", "```\n<!-- alerts:end -->")
    assert block == RULES.read_text()


def test_the_alert_rules_use_only_metrics_the_daemon_exposes() -> None:
    exposed = {spec.name for spec in CATALOGUE}
    for name in set(re.findall(r"modelmesh_healthd_\w+", RULES.read_text())):
        base = re.sub(r"_(bucket|count|sum)$", "", name)
        assert name in exposed or base in exposed, name


def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    promtool = _promtool()
    for args in (["check", "rules", str(RULES)], ["test", "rules", str(RULE_TESTS)]):
        result = subprocess.run(
            [promtool, *args], capture_output=True, text=True, check=False, cwd=RULES.parent
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_documented_scrape_configuration(tmp_path: Path) -> None:
    promtool = _promtool()
    config = next(b for b in _blocks("yaml") if "scrape_configs:" in b)
    (tmp_path / "prometheus.yml").write_text(config)
    shutil.copy(RULES, tmp_path / "alerts.yml")
    result = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_documented_starting_configuration_is_valid() -> None:
    config = next(b for b in _blocks("yaml") if "providers:" in b)
    environ = {"OPENAI_API_KEY": "sk-x", "ANTHROPIC_API_KEY": "sk-ant-x"}
    loaded = load_config_text(config, environ=environ)
    assert set(loaded.pools) == {"chat", "fast"}


def test_every_command_in_the_shell_examples_exists() -> None:
    commands = {
        name
        for action in _parser()._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    }
    used = set()
    for block in _blocks("sh"):
        used |= set(re.findall(r"modelmesh-healthd ([a-z]+)(?![\w-])", block))
    assert used
    assert used <= commands


def test_every_event_the_logs_section_names_exists_and_every_error_is_named() -> None:
    levels = {name: spec.level for name, spec in EVENT_CATALOGUE.items()}
    named = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", _section("Logs")))
    assert named <= set(levels), named - set(levels)
    errors = {name for name, level in levels.items() if level == "error"}
    assert errors <= named, f"errors the Logs section does not list: {errors - named}"
    supervision = {"admin.started", "admin.failed", "scheduler.stalled", "systemd.notify_failed"}
    assert supervision <= named
