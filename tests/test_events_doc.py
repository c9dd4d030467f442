"""docs/events.md and the code agree: every log event name, its level and its fields."""

from __future__ import annotations

import re
from pathlib import Path

from modelmesh_healthd.daemon.events import EVENT_CATALOGUE

DOC = Path(__file__).resolve().parents[1] / "docs" / "events.md"
ROW = re.compile(r"^\|\s*`(?P<name>[a-z_.]+)`\s*\|\s*(?P<level>[a-z]+)[^|]*\|(?P<fields>[^|]*)\|")


def doc_catalogue() -> dict[str, tuple[str, set[str]]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        match = ROW.match(line)
        if match:
            fields = set(re.findall(r"`([a-z_]+)`", match["fields"]))
            assert match["name"] not in rows, f"{match['name']} is documented twice"
            rows[match["name"]] = (match["level"], fields)
    return rows


def test_every_event_in_the_code_is_documented_and_nothing_else() -> None:
    assert set(doc_catalogue()) == set(EVENT_CATALOGUE)


def test_documented_levels_and_fields_match_the_code() -> None:
    documented = doc_catalogue()
    for name, spec in EVENT_CATALOGUE.items():
        level, fields = documented[name]
        assert level == spec.level, name
        assert fields == set(spec.fields), name
