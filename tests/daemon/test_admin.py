"""The admin endpoint over real HTTP, against a daemon probing the simulated providers."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import httpx
from daemon_support import KEYS
from ops_support import admin_daemon, admin_url
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from modelmesh_healthd.config import load_config_text
from modelmesh_healthd.daemon.metrics import CATALOGUE
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.state import Outcome
from tool_support import tool

_OUTCOMES = {str(o) for o in Outcome}


async def _get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        return await client.get(url)


async def _scrape(base: str) -> list[Metric]:
    response = await _get(f"{base}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return list(text_string_to_metric_families(response.text))


async def _families(base: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    """name -> [(sample name, labels, value)] of a scrape, parsed by prometheus-client."""
    return {
        family.name: [(s.name, s.labels, s.value) for s in family.samples]
        for family in await _scrape(base)
    }


def _value(samples: list[tuple[str, dict[str, str], float]], **labels: str) -> float:
    found = [v for _, lbl, v in samples if all(lbl.get(k) == x for k, x in labels.items())]
    assert len(found) == 1, (labels, samples)
    return found[0]


async def test_livez_and_readyz_say_yes_once_the_daemon_runs(tmp_path: Path) -> None:
    async with admin_daemon(tmp_path) as run:
        await run.wait_for("daemon.started")
        base = admin_url(run)
        live = await _get(f"{base}/livez")
        assert live.status_code == 200
        assert live.json()["live"] is True
        ready = await _get(f"{base}/readyz")
        assert (ready.status_code, ready.json()) == (200, {"ready": True, "reasons": []})
        started = run.events("admin.started")[0]
        assert started["listen"] == base.removeprefix("http://")


async def test_readyz_is_503_with_the_reason_while_the_store_cannot_be_written(
    tmp_path: Path,
) -> None:
    # The store's directory is a symlink that is swapped, atomically, for one to a plain file:
    # every path under it then fails with ENOTDIR, for root too (a chmod would not stop root),
    # and no write in flight can race the swap the way removing the directory did.
    real = tmp_path / "state-dir"
    real.mkdir()
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    directory = tmp_path / "state"
    directory.symlink_to(real)

    def point_at(target: Path) -> None:
        swap = tmp_path / "state.swap"
        swap.symlink_to(target)
        os.replace(swap, directory)

    async with admin_daemon(tmp_path, store_url=f"file://{directory}/state.json") as run:
        await run.wait_for("daemon.started")
        base = admin_url(run)
        await run.probes_of("a", 1)
        point_at(blocker)
        await run.wait_for("snapshot.save_failed")
        ready = await _get(f"{base}/readyz")
        assert ready.status_code == 503
        assert ready.json()["ready"] is False
        assert "last write failed" in ready.json()["reasons"][0]
        assert (await _get(f"{base}/livez")).status_code == 200  # probing goes on
        metrics = await _families(base)
        assert _value(metrics["modelmesh_healthd_store_ready"]) == 0.0
        assert _value(metrics["modelmesh_healthd_state_saves"], result="failed") >= 1

        point_at(real)
        await run.wait_for("snapshot.save_recovered")
        assert (await _get(f"{base}/readyz")).status_code == 200


async def test_metrics_have_every_family_with_labels_from_the_configuration(
    tmp_path: Path,
) -> None:
    async with admin_daemon(tmp_path) as run:
        await run.wait_for("daemon.started")
        run.sim.set_behaviour("b", "key_revoked")
        await run.wait_for("provider.down", provider="b")
        await run.probes_of("a", 2)
        families = await _scrape(admin_url(run))

    # Every metric of the catalogue, with its type and exactly its labels; nothing else.
    scraped = {f.name: f for f in families}
    assert set(scraped) == {spec.name.removesuffix("_total") for spec in CATALOGUE}
    for spec in CATALOGUE:
        family = scraped[spec.name.removesuffix("_total")]
        assert family.type == spec.kind, spec.name
        assert family.samples, spec.name
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == set(spec.labels), (spec.name, sample)
    metrics = {f.name: [(s.name, s.labels, s.value) for s in f.samples] for f in families}
    probes = metrics["modelmesh_healthd_probes"]
    assert {lbl["provider"] for _, lbl, _ in probes} == {"a", "b", "c", "d"}
    assert {lbl["outcome"] for _, lbl, _ in probes} <= _OUTCOMES
    assert _value(probes, provider="b", outcome="auth_invalid") >= 1
    assert _value(metrics["modelmesh_healthd_provider_up"], provider="b") == 0.0
    assert _value(metrics["modelmesh_healthd_provider_up"], provider="a") == 1.0
    score = _value(metrics["modelmesh_healthd_provider_availability_score"], provider="b")
    assert 0.0 <= score < 0.5
    transitions = metrics["modelmesh_healthd_provider_transitions"]
    assert _value(transitions, provider="b", to="down") == 1.0
    assert _value(metrics["modelmesh_healthd_pool_standby_models"], pool="premium") == 1.0
    assert _value(metrics["modelmesh_healthd_pool_active_models"], pool="premium") == 1.0
    assert {lbl["pool"] for _, lbl, _ in metrics["modelmesh_healthd_pool_active_models"]} == {
        "chat",
        "premium",
        "fast",
    }
    assert _value(metrics["modelmesh_healthd_state_saves"], result="ok") >= 1
    assert _value(metrics["modelmesh_healthd_ready"]) == 1.0
    assert _value(metrics["modelmesh_healthd_scheduler_live"]) == 1.0
    durations = metrics["modelmesh_healthd_probe_duration_seconds"]
    assert {lbl["provider"] for _, lbl, _ in durations} == {"a", "b", "c", "d"}
    lateness = metrics["modelmesh_healthd_scheduler_lateness_seconds"]
    assert _value(lateness, le="+Inf") >= 4
    info = metrics["modelmesh_healthd_build_info"][0]
    assert set(info[1]) == {"version", "python"}


async def test_metrics_pass_prometheus_own_checker(tmp_path: Path) -> None:
    promtool = tool("promtool")
    async with admin_daemon(tmp_path) as run:
        await run.wait_for("daemon.started")
        run.sim.set_behaviour("c", "server_error")
        await run.wait_for("provider.down", provider="c")
        text = (await _get(f"{admin_url(run)}/metrics")).text
    proc = await asyncio.create_subprocess_exec(
        promtool,
        "check",
        "metrics",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate(text.encode())
    assert proc.returncode == 0, out.decode()
    assert out == b""  # not even a lint remark
    assert "_created" not in text  # no creation-time series doubling every counter


async def test_a_provider_removed_by_a_reload_is_gone_from_the_metrics(tmp_path: Path) -> None:
    async with admin_daemon(tmp_path) as run:
        await run.wait_for("daemon.started")
        await run.probes_of("c", 1)
        base = admin_url(run)
        assert 'provider="c"' in (await _get(f"{base}/metrics")).text
        config = tmp_path / "healthd.yaml"
        text = config.read_text()
        without_c = [
            line for line in text.splitlines() if not line.startswith(("  c:", "  c.flash:"))
        ]
        config.write_text("\n".join(without_c).replace(", c.flash", "") + "\n")
        run.daemon.request_reload()
        reloaded = await run.wait_for("daemon.reloaded")
        assert reloaded["removed"] == ["c"]
        page = (await _get(f"{base}/metrics")).text
        assert 'provider="c"' not in page
        assert 'provider="a"' in page


async def test_state_and_provider_pages_are_json_without_any_key(tmp_path: Path) -> None:
    async with admin_daemon(tmp_path) as run:
        await run.wait_for("daemon.started")
        run.sim.set_behaviour("a", "key_revoked")
        await run.wait_for("provider.down", provider="a")
        base = admin_url(run)
        state = await _get(f"{base}/v1/state")
        provider = await _get(f"{base}/v1/providers/a")
        missing = await _get(f"{base}/v1/providers/nope")
        metrics = await _get(f"{base}/metrics")

    for page in (state, provider, metrics):
        for key in KEYS.values():
            assert key not in page.text
    body = state.json()
    assert set(body["state"]["providers"]) == {"a", "b", "c", "d"}
    assert body["state"]["providers"]["a"]["down_reason"] == "auth_failure"
    assert body["instance"] == "test"
    assert body["sync"]["store"].startswith("sqlite://")
    assert "token" not in (body["sync"]["lock_owner"] or {})
    assert body["counts"]["down"] == 1
    assert provider.status_code == 200
    one = provider.json()
    assert (one["provider"], one["healthy"], one["phase"]) == ("a", False, "down")
    assert set(one["models"]) == {"a.gpt-4o", "a.gpt-4o-mini"}
    assert set(one["pools"]) == {"chat", "premium", "fast"}
    assert missing.status_code == 404
    assert missing.json() == {"error": "unknown provider", "provider": "nope"}


async def test_a_taken_admin_port_stops_startup_and_gives_the_store_back(
    tmp_path: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        text = f"""
storage: {{url: "sqlite:///{tmp_path}/state.db"}}
admin: {{listen: "127.0.0.1:{port}"}}
providers:
  a: {{kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: {KEYS["a"]}}}
"""
        with capture_logs() as logs:
            daemon = Daemon(load_config_text(text, environ={}), environ={})
            assert await asyncio.wait_for(daemon.run(), 10.0) == 1
    failed = [e for e in logs if e["event"] == "admin.failed"]
    assert len(failed) == 1
    assert failed[0]["listen"] == f"127.0.0.1:{port}"
    assert "in use" in failed[0]["reason"]
    assert not any(e["event"] in ("daemon.started", "probe.completed") for e in logs)
    names = [e["event"] for e in logs]
    assert names.index("store.lock_released") > names.index("admin.failed")


async def test_admin_disabled_listens_nowhere(tmp_path: Path) -> None:
    async with admin_daemon(tmp_path, listen=None) as run:
        await run.wait_for("daemon.started")
        assert run.daemon.supervision.admin is None
        assert not run.events("admin.started")


async def test_a_reload_keeps_the_admin_endpoint_where_it_listens(tmp_path: Path) -> None:
    async with admin_daemon(tmp_path) as run:
        await run.wait_for("daemon.started")
        base = admin_url(run)
        config = tmp_path / "healthd.yaml"
        config.write_text(
            config.read_text().replace('admin: {listen: "127.0.0.1:0"}', "admin: {enabled: false}")
        )
        run.daemon.request_reload()
        await run.wait_for("daemon.reloaded")
        assert run.events("config.restart_required", key="admin")
        assert (await _get(f"{base}/livez")).status_code == 200


async def test_a_failed_startup_closes_the_admin_endpoint_again(tmp_path: Path) -> None:
    async with admin_daemon(tmp_path) as first:
        await first.wait_for("daemon.started")
        text = (tmp_path / "healthd.yaml").read_text()  # the same store: its lock is taken
        with socket.socket() as probe_port:
            probe_port.bind(("127.0.0.1", 0))
            port = probe_port.getsockname()[1]
        text = text.replace('"127.0.0.1:0"', f'"127.0.0.1:{port}"').replace(
            "instance: test", "instance: second"
        )
        second = Daemon(load_config_text(text, environ={}), environ={})
        running = asyncio.create_task(second.run())
        await first.wait_for("store.standby")  # waiting for the lock: then told to stop
        second.request_stop("test")
        assert await asyncio.wait_for(running, 10.0) == 1
        assert first.events("store.locked")
        assert second.supervision.admin is None
        with socket.socket() as again:  # the port is free again
            again.bind(("127.0.0.1", port))
