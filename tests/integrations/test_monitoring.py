"""StoreHealthMonitoring: ModelMesh's HealthMonitoring interface, answered from the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from mm_support import writer
from modelmesh.interfaces.discovery import HealthMonitoring

from modelmesh_healthd.integrations.modelmesh import StoreHealthMonitoring
from modelmesh_healthd.state import Outcome
from modelmesh_healthd.storage import StoreUnavailableError, StoreURLError

ALPHA, BETA = "openai.llm.v1", "groq.api.v1"


async def test_the_health_report_gives_the_daemons_verdict_per_provider(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/s.db"
    async with writer(url) as w:
        await w.down(ALPHA)
        await w.probes(BETA, Outcome.OK, 1)
    monitoring = StoreHealthMonitoring(url)
    assert isinstance(monitoring, HealthMonitoring)
    reports = {r.provider_id: r for r in await monitoring.get_health_report()}
    assert sorted(reports) == [BETA, ALPHA]
    assert reports[ALPHA].available is False
    assert reports[ALPHA].error is not None
    assert reports[ALPHA].error.startswith("provider_unavailable")
    assert reports[ALPHA].availability_score < 0.5
    assert reports[BETA].available is True
    assert reports[BETA].error is None
    only = await monitoring.get_health_report(BETA)
    assert [r.provider_id for r in only] == [BETA]


async def test_probe_gives_the_daemons_latest_probe_instead_of_sending_one(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/s.db"
    async with writer(url) as w:
        await w.down(ALPHA)
    monitoring = StoreHealthMonitoring(url)
    result = await monitoring.probe(ALPHA)
    assert (result.provider_id, result.success) == (ALPHA, False)
    assert result.error is not None
    assert result.error.startswith("provider_unavailable")
    with pytest.raises(KeyError, match="not in the daemon's state"):
        await monitoring.probe("nobody.v1")


async def test_an_unreachable_store_is_said_as_such() -> None:
    monitoring = StoreHealthMonitoring("redis://127.0.0.1:1/0?timeout=0.5")
    with pytest.raises(StoreUnavailableError):
        await monitoring.get_health_report()


def test_a_bad_store_url_is_said_when_it_is_built() -> None:
    with pytest.raises(StoreURLError):
        StoreHealthMonitoring("nope://x")
