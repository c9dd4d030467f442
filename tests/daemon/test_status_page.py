"""The status page over plain HTTP: what it serves, where, and that it escapes what it shows."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from daemon_support import KEYS, Running, fleet
from ops_support import admin_config, admin_daemon, admin_url
from structlog.testing import capture_logs

from modelmesh_healthd.config import load_config_text
from modelmesh_healthd.daemon.history import HistoryRecorder
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.daemon.status_page import render_status_page
from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.state import SystemState
from modelmesh_healthd.state.model import ModelState, PoolState
from modelmesh_healthd.state.provider import ProviderState


async def _get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        return await client.get(url)


async def test_the_page_is_html_that_refreshes_and_fits_a_phone(tmp_path: Path) -> None:
    async with admin_daemon(tmp_path) as run:
        await run.wait_for("daemon.started")
        run.sim.set_behaviour("b", "key_revoked")
        await run.wait_for("provider.down", provider="b")
        response = await _get(f"{admin_url(run)}/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<meta http-equiv="refresh" content="15">' in page
    assert "<script" not in page
    assert 'data-provider="b" data-state="down"' in page
    assert "auth_failure" in page
    for key in KEYS.values():
        assert key not in page


async def test_behind_a_prefix_every_link_carries_it_and_every_path_answers_under_it(
    tmp_path: Path,
) -> None:
    async with Simulator(fleet()) as sim:
        text = admin_config(sim.base_url, f"sqlite:///{tmp_path}/state.db").replace(
            'admin: {listen: "127.0.0.1:0"}', 'admin: {listen: "127.0.0.1:0", base_path: /mesh/hd/}'
        )
        with capture_logs() as logs:
            run = Running(Daemon(load_config_text(text, environ={}), environ={}), logs, sim)
            try:
                await run.wait_for("daemon.started")
                base = admin_url(run)
                page = (await _get(f"{base}/mesh/hd/")).text
                prefixed = await _get(f"{base}/mesh/hd/v1/providers/a/history")
                plain = await _get(f"{base}/v1/providers/a/history")
            finally:
                await run.stop()
    links = [part.split('"', 1)[0] for part in page.split('href="')[1:]]
    assert links
    assert all(link.startswith("/mesh/hd/") for link in links), links
    assert prefixed.status_code == plain.status_code == 200


def _view(name: str, reason: str) -> Any:
    """A view of one down provider with one model in one pool, named as given."""
    state = SystemState()
    state.providers[name] = ProviderState(available=False, last_probe=1.0, down_reason=reason)
    state.models[name + ".m"] = ModelState(status="standby", deactivation_reason=reason)
    state.pools[name] = PoolState(standby_models={name + ".m"})
    history = HistoryRecorder("memory://")
    return SimpleNamespace(
        state=state,
        history=history,
        probed={name},
        wall_clock=lambda: 100.0,
        config=SimpleNamespace(daemon=SimpleNamespace(instance="<i>inst</i>")),
    )


def test_every_value_on_the_page_is_escaped() -> None:
    page = render_status_page(_view('<script>x"', "<b>bad</b>"), "/p")
    assert "<script>" not in page
    assert "<b>bad</b>" not in page
    assert "<i>inst</i>" not in page
    assert "&lt;script&gt;x&quot;" in page
    assert "&lt;b&gt;bad&lt;/b&gt;" in page
    assert "/p/v1/providers/%3Cscript%3Ex%22/history" in page
