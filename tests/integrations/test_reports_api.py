"""POST /v1/reports on a real daemon process: the token, the bounds, usage, passive evidence."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mm_support import TOKEN, Daemon, daemon_process, mesh_yaml, sim_providers, until

from modelmesh_healthd.daemon.reports import MAX_REPORTS, ReportError, parse_batch
from modelmesh_healthd.simulator import Simulator
from service_support import free_port

ALPHA = "openai.llm.v1"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@asynccontextmanager
async def running(
    tmp_path: Path, *, fast: bool = False
) -> AsyncIterator[tuple[Simulator, Daemon, httpx.AsyncClient]]:
    """The daemon on the story's YAML; probes every minute (first within one) unless `fast`."""
    config = tmp_path / "modelmesh.yaml"
    async with Simulator(sim_providers()) as sim:
        port = free_port()
        text = mesh_yaml(sim, admin_port=port, fast=fast)
        if not fast:
            text += "schedule: {interval: 60s, fast_interval: 0.25s, jitter: 0.0, timeout: 1s}\n"
        config.write_text(text)
        async with (
            daemon_process(config, f"sqlite:///{tmp_path}/state.db") as daemon,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http,
        ):
            await daemon.wait_for("daemon.started")
            yield sim, daemon, http


def report(outcome: str, *, model: str = "openai.gpt-4o-mini", **extra: Any) -> dict[str, Any]:
    return {"model": model, "outcome": outcome, "at": time.time(), **extra}


async def provider(http: httpx.AsyncClient, name: str = ALPHA) -> dict[str, Any]:
    state: dict[str, Any] = (await http.get(f"/v1/providers/{name}")).json()
    return state


BAD_CREDENTIALS = {
    "no token": {},
    "wrong token": {"authorization": "Bearer wrong"},
    "not a bearer token": {"authorization": f"Basic {TOKEN}"},
}


async def test_without_the_token_reports_are_refused_and_change_nothing(tmp_path: Path) -> None:
    async with running(tmp_path) as (_, _, http):  # one daemon, asked with each credential
        for name, headers in BAD_CREDENTIALS.items():
            batch = {"reports": [report("ok", tokens=10, cost=1.0)]}
            answer = await http.post("/v1/reports", json=batch, headers=headers)
            assert answer.status_code == 401, name
            assert TOKEN not in answer.text, name
            state = (await provider(http))["state"]
            assert (state["total_quota_used"], state["total_cost"]) == (0, 0.0), name


async def test_reported_usage_fills_the_providers_quota_and_cost(tmp_path: Path) -> None:
    async with running(tmp_path) as (_, _, http):
        batch = {
            "reports": [
                report("ok", tokens=120, cost=0.25, latency=0.2),
                report("ok", tokens=80, cost=0.5),
                report("server_error"),
            ]
        }
        answer = await http.post("/v1/reports", json=batch, headers=AUTH)
        assert answer.json() == {"accepted": 3, "ignored": 0}
        body = await provider(http)
        assert body["state"]["total_quota_used"] == 2
        assert body["state"]["total_cost"] == pytest.approx(0.75)
        model = body["models"]["openai.gpt-4o-mini"]
        assert (model["quota_used"], model["tokens_used"]) == (2, 200)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ({"items": []}, 'body: must be {"reports": [...]}'),
        ({"reports": [report("fine")]}, "reports[0].outcome: must be one of ok, degraded"),
        ({"reports": [report("ok", tokens=-1)]}, "reports[0].tokens: must be an integer >= 0"),
        ({"reports": [report("ok", tokens=True)]}, "reports[0].tokens: must be an integer >= 0"),
        ({"reports": [{"outcome": "ok", "at": 1}]}, "reports[0].model: must be a non-empty"),
        ({"reports": [report("ok", cost="free")]}, "reports[0].cost: must be a finite number"),
        ({"reports": [report("ok", latency=-0.5)]}, "reports[0].latency: must be >= 0"),
        ({"reports": [report("ok"), 7]}, "reports[1]: must be an object"),
        ({"reports": [report("ok", provider=3)]}, "reports[0].provider: must be a string"),
    ],
)
def test_a_malformed_batch_is_refused_naming_what_and_where(
    batch: dict[str, Any], message: str
) -> None:
    with pytest.raises(ReportError) as caught:
        parse_batch(batch)
    assert str(caught.value).startswith(message)


async def test_a_malformed_batch_is_answered_400_with_its_message(tmp_path: Path) -> None:
    async with running(tmp_path) as (_, _, http):
        batch = {"reports": [report("ok"), report("fine")]}
        answer = await http.post("/v1/reports", json=batch, headers=AUTH)
        assert answer.status_code == 400
        assert answer.json()["error"].startswith("reports[1].outcome: must be one of")
        assert (await provider(http))["state"]["total_quota_used"] == 0  # refused whole


async def test_an_oversized_batch_is_refused_whole(tmp_path: Path) -> None:
    async with running(tmp_path) as (_, _, http):
        too_many = {"reports": [report("ok")] * (MAX_REPORTS + 1)}
        answer = await http.post("/v1/reports", json=too_many, headers=AUTH)
        assert answer.status_code in (400, 413)
        huge = b'{"reports": [' + b" " * (2 << 20) + b"]}"
        answer = await http.post("/v1/reports", content=huge, headers=AUTH)
        assert answer.status_code == 413
        assert (await provider(http))["state"]["total_quota_used"] == 0


async def test_an_accusation_the_probe_clears_changes_nothing(tmp_path: Path) -> None:
    async with running(tmp_path) as (_, daemon, http):

        def alpha_probes() -> int:
            return sum(
                1
                for e in daemon.events
                if e.get("event") == "probe.completed" and e.get("provider") == ALPHA
            )

        probes_before = alpha_probes()
        batch = {"reports": [report("server_error") for _ in range(5)]}
        await http.post("/v1/reports", json=batch, headers=AUTH)
        await daemon.wait_for("passive.accused", within=5, provider=ALPHA)
        # A probe at once (the schedule's is up to a minute away) finds the provider fine.
        await until(lambda: alpha_probes() > probes_before, 5, "an immediate probe")
        assert (await provider(http))["healthy"]
        assert not daemon.seen("provider.down", provider=ALPHA)


async def test_an_accusation_the_probe_confirms_takes_the_provider_down_early(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as (sim, daemon, http):
        sim.set_behaviour("alpha", "server_error")
        batch = {"reports": [report("server_error") for _ in range(5)]}
        await http.post("/v1/reports", json=batch, headers=AUTH)
        await daemon.wait_for("passive.accused", within=5, provider=ALPHA)
        accused = time.monotonic()
        await daemon.wait_for("provider.down", within=30, provider=ALPHA)
        # The immediate probe, then fast re-probes: seconds, not the schedule's minute.
        assert time.monotonic() - accused < 10
