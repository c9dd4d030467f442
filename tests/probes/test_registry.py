"""The one kinds registry is what configuration, its schema and its messages read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelmesh_healthd.cli import main
from modelmesh_healthd.config import DEFAULT_BASE_URLS, KINDS, ConfigError, load_config_text
from modelmesh_healthd.config.models import KEYED_KINDS
from modelmesh_healthd.kinds import KINDS as SPECS


def kind_enums(node: Any) -> list[list[str]]:
    if isinstance(node, dict):
        found = [node["enum"]] if "openai" in node.get("enum", ()) else []
        return found + [e for v in node.values() for e in kind_enums(v)]
    if isinstance(node, list):
        return [e for v in node for e in kind_enums(v)]
    return []


def test_configs_kind_tables_are_the_registrys() -> None:
    assert list(KINDS) == list(SPECS)
    assert {k for k, s in SPECS.items() if s.key_required} == KEYED_KINDS
    assert {k: s.default_base_url for k, s in SPECS.items() if s.default_base_url} == dict(
        DEFAULT_BASE_URLS
    )


def test_the_schema_offers_exactly_the_registrys_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert kind_enums(json.loads(capsys.readouterr().out)) == [list(SPECS)]


def test_a_new_kind_needs_its_key_where_the_registry_says() -> None:
    with pytest.raises(ConfigError, match="api_key: required for kind cohere"):
        load_config_text("providers:\n  c: {kind: cohere}\n")
    assert load_config_text("providers:\n  l: {kind: lmstudio}\n").providers["l"].url == (
        "http://localhost:1234"
    )
