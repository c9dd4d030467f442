"""The status page over plain HTTP: what it serves, where, and that it escapes what it shows."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from daemon_support import KEYS, Running, fleet
from ops_support import admin_config, admin_daemon, admin_url
from structlog.testing import capture_logs

from modelmesh_healthd.config import load_config_text
from modelmesh_healthd.daemon import history as history_module
from modelmesh_healthd.daemon.history import HistoryRecorder, provider_subject
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.daemon.status_page import CACHE_S, render_status_page
from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.state import SystemState
from modelmesh_healthd.state.history import DOWN, UP, History, availability, record
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


class _Counted:
    """`availability` with a count of its calls (what the page's bars cost)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return availability(*args, **kwargs)


def _cached_view(now: list[float]) -> Any:
    """A view of one provider `a`, up for the last two hours, at the time `now[0]`."""
    view = _view("a", "server_error")
    view.wall_clock = lambda: now[0]
    view.history.histories[provider_subject("a")] = History(((now[0] - 7200, UP),))
    return view


def _bar(page: str) -> list[str]:
    card = page.split('data-provider="a"', 1)[1]
    bar = card.split('<div class="bar"', 1)[1].split("</div>", 1)[0]
    return [part.split('"', 1)[0] for part in bar.split('class="s-')[1:]]


def test_two_renders_within_the_cache_period_compute_the_bars_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counted = _Counted()
    monkeypatch.setattr(history_module, "availability", counted)
    now = [1_000_000.0]
    view = _cached_view(now)
    first = render_status_page(view)
    computed = counted.calls
    now[0] += CACHE_S - 1
    second = render_status_page(view)
    assert computed >= 25  # 24 hours and the day's ratio
    assert counted.calls == computed
    assert _bar(second) == _bar(first)
    now[0] += 2  # past the period: computed again
    render_status_page(view)
    assert counted.calls == 2 * computed


def test_a_new_transition_shows_on_the_bar_within_and_after_the_cache_period() -> None:
    now = [1_000_000.0]
    view = _cached_view(now)
    assert _bar(render_status_page(view))[-2:] == ["up", "up"]
    subject = provider_subject("a")
    now[0] += 5
    view.history.histories[subject] = record(view.history.histories[subject], now[0], DOWN)
    now[0] += 5
    assert _bar(render_status_page(view))[-1] == "down"  # a changed history is never cached
    now[0] += CACHE_S + 1
    page = render_status_page(view)
    assert _bar(page)[-1] == "down"
    assert 'data-provider="a" data-state="down"' in page
