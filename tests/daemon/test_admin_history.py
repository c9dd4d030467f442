"""Availability history over the admin endpoint: the JSON page and the scraped ratio."""

from __future__ import annotations

from pathlib import Path

import httpx
from daemon_support import KEYS
from ops_support import admin_daemon, admin_url
from prometheus_client.parser import text_string_to_metric_families

from modelmesh_healthd.state.history import HISTORY_STATES


async def _get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        return await client.get(url)


async def test_the_history_page_shows_an_outage_per_window(tmp_path: Path) -> None:
    async with admin_daemon(tmp_path) as run:
        await run.wait_for("daemon.started")
        await run.probes_of("b", 1)
        run.sim.set_behaviour("b", "key_revoked")
        await run.wait_for("provider.down", provider="b")
        response = await _get(f"{admin_url(run)}/v1/providers/b/history")
    assert response.status_code == 200
    for key in KEYS.values():
        assert key not in response.text
    body = response.json()
    assert (body["provider"], body["current"]) == ("b", "down")
    assert [c["state"] for c in body["changes_24h"]][-2:] == ["up", "down"]
    assert set(body["windows"]) == {"1h", "24h", "7d", "30d"}
    hour = body["windows"]["1h"]
    assert set(hour["seconds"]) == set(HISTORY_STATES)
    assert hour["seconds"]["down"] > 0
    assert 0.0 < hour["ratio"] < 1.0
    assert abs(sum(hour["fractions"].values()) - 1.0) < 1e-9
    assert body["models"]["b.claude"]["current"] == "down"


async def test_the_history_of_an_unknown_provider_is_404(tmp_path: Path) -> None:
    async with admin_daemon(tmp_path) as run:
        await run.wait_for("daemon.started")
        response = await _get(f"{admin_url(run)}/v1/providers/nope/history")
    assert response.status_code == 404
    assert response.json() == {"error": "unknown provider", "provider": "nope"}


async def test_the_availability_ratio_is_scraped_per_provider_and_window(tmp_path: Path) -> None:
    async with admin_daemon(tmp_path) as run:
        await run.wait_for("daemon.started")
        await run.probes_of("b", 1)
        run.sim.set_behaviour("b", "key_revoked")
        await run.wait_for("provider.down", provider="b")
        await run.probes_of("a", 1)
        text = (await _get(f"{admin_url(run)}/metrics")).text
    samples = {
        (s.labels["provider"], s.labels["window"]): s.value
        for family in text_string_to_metric_families(text)
        if family.name == "modelmesh_healthd_availability_ratio"
        for s in family.samples
    }
    assert {w for _, w in samples} == {"1h", "24h", "7d", "30d"}
    assert samples[("a", "1h")] == 1.0
    assert 0.0 < samples[("b", "30d")] < 1.0
