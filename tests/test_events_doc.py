"""docs/events.md and the code agree: every log event name, its level and its fields."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from modelmesh_healthd import probes, simulator, storage
from modelmesh_healthd.daemon import events as daemon_events
from modelmesh_healthd.daemon import reports as daemon_reports
from modelmesh_healthd.state import STATE_EVENTS, LogEventSpec

DOC = Path(__file__).resolve().parents[1] / "docs" / "events.md"
ROW = re.compile(r"^\|\s*`(?P<name>[a-z_.]+)`\s*\|\s*(?P<level>[a-z]+)[^|]*\|(?P<fields>[^|]*)\|")


def state_specs() -> list[LogEventSpec]:
    specs = []
    for cls in STATE_EVENTS:
        fields = tuple("from" if f.name == "from_" else f.name for f in dataclasses.fields(cls))
        specs.append(LogEventSpec(cls.name, cls.level, fields, (cls.__doc__ or "").strip()))
    return specs


def code_catalogue() -> dict[str, LogEventSpec]:
    all_specs = [
        *state_specs(),
        *daemon_events.LOG_EVENTS,
        *daemon_reports.LOG_EVENTS,
        *storage.LOG_EVENTS,
        *probes.LOG_EVENTS,
        *simulator.LOG_EVENTS,
    ]
    catalogue: dict[str, LogEventSpec] = {}
    for spec in all_specs:
        assert spec.name not in catalogue, f"{spec.name} is declared twice"
        catalogue[spec.name] = spec
    return catalogue


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
    assert set(doc_catalogue()) == set(code_catalogue())


def test_documented_levels_and_fields_match_the_code() -> None:
    documented = doc_catalogue()
    for name, spec in code_catalogue().items():
        level, fields = documented[name]
        assert level == spec.level, name
        assert fields == set(spec.fields), name
