"""drain / undrain / overrides and the admin API's token, against real daemon processes.

The daemons are real processes throughout. The commands talking to them run as real processes
in the drained-provider test (the one test of each command as the installed command); elsewhere
they run through the command line's entry point in this process, on a thread of their own: what
those tests show is the daemon's answer, not the command's process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest
from daemon_support import config_text, fleet
from ops_support import daemon_process

from command_support import call_main
from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.storage import read_state
from service_support import free_port

TOKEN = "s3cret-admin-token-for-tests"


def write_config(
    tmp_path: Path, base_url: str, store: str, port: int, *, auth: str = "write"
) -> Path:
    token_file = tmp_path / "admin.token"
    token_file.write_text(TOKEN + "\n")
    admin = f'admin: {{listen: "127.0.0.1:{port}", auth: {auth}, token: "${{file:{token_file}}}"}}'
    path = tmp_path / "healthd.yaml"
    path.write_text(config_text(base_url, store).replace("admin: {enabled: false}", admin))
    return path


def _environment(env: Mapping[str, str] | None) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k != "MODELMESH_HEALTHD_CONFIG"}
    return {**environ, **(env or {})}


async def cli(*args: str, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    """`modelmesh-healthd ARGS` through the entry point, on a thread of its own (the loop stays
    free for the daemon's logs)."""
    done = await asyncio.to_thread(call_main, args, env=_environment(env))
    return done.code, done.stdout, done.stderr


async def cli_process(*args: str, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    """Run `modelmesh-healthd ARGS` as a process (the loop stays free for the daemon's logs)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "modelmesh_healthd",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_environment(env),
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def probes_of(sim: Simulator, provider: str, count: int, within: float = 20.0) -> None:
    """Wait until the simulator has answered `count` more requests for `provider`."""
    target = sim.requests(provider) + count
    deadline = time.monotonic() + within
    while sim.requests(provider) < target:
        assert time.monotonic() < deadline, f"{provider} was not probed {count} times"
        await asyncio.sleep(0.05)


async def test_a_drained_provider_stays_up_through_failures_until_undrained(
    tmp_path: Path,
) -> None:
    store = f"sqlite:///{tmp_path}/state.db"
    port = free_port()
    async with Simulator(fleet()) as sim:
        config = write_config(tmp_path, sim.base_url, store, port)
        async with daemon_process(config) as daemon:
            await daemon.wait_for("daemon.started")
            code, out, err = await cli_process(
                "drain", "a", "--for", "30m", "--reason", "upgrade", "-c", str(config)
            )
            assert code == 0, err
            assert "upgrade" in out
            await daemon.wait_for("override.set", target="a", kind="provider")
            deactivated = await daemon.wait_for("model.deactivated", model="a.gpt-4o")
            assert deactivated["reason"] == "maintenance_window"

            sim.set_behaviour("a", "key_revoked")
            await probes_of(sim, "a", 5)  # its probes go on...
            assert not daemon.named("provider.down", provider="a")  # ...but cannot take it down

            code, out, _ = await cli_process("overrides", "--json", "-c", str(config))
            assert code == 0
            assert [o["target"] for o in json.loads(out)] == ["a"]

            code, out, err = await cli_process("undrain", "a", "-c", str(config))
            assert (code, out.strip()) == (0, "a: override cleared"), err
            await daemon.wait_for("override.cleared", target="a")
            down = await daemon.wait_for("provider.down", provider="a")  # probes decide again
            assert down["reason"] == "auth_failure"
            daemon.signal(signal.SIGTERM)
            assert await daemon.finish() == 0


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_an_override_survives_a_restart(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    store = (
        f"sqlite:///{tmp_path}/state.db"
        if backend == "sqlite"
        else request.getfixturevalue("redis_url")
    )
    port = free_port()
    async with Simulator(fleet()) as sim:
        config = write_config(tmp_path, sim.base_url, store, port)
        async with daemon_process(config) as daemon:
            await daemon.wait_for("daemon.started")
            code, _, err = await cli("drain", "b.claude", "--for", "2h", "-c", str(config))
            assert code == 0, err
            await daemon.wait_for("override.set", target="b.claude")
            daemon.signal(signal.SIGTERM)
            assert await daemon.finish() == 0

        async with daemon_process(config) as daemon:
            await daemon.wait_for("daemon.started")
            code, out, _ = await cli("overrides", "--json", "-c", str(config))
            (only,) = json.loads(out)
            assert (only["target"], only["kind"], only["source"]) == (
                "b.claude",
                "model",
                "operator",
            )
            await probes_of(sim, "b", 3)
            assert not daemon.named("model.reactivated", model="b.claude")
            daemon.signal(signal.SIGTERM)
            assert await daemon.finish() == 0
    code, out, err = await cli("status", "--store", store, "--json")
    assert code == 0, err
    assert [o["target"] for o in json.loads(out)["overrides"]] == ["b.claude"]
    state = await read_state(store)
    assert state is not None
    assert state.models["b.claude"].deactivation_reason == "maintenance_window"
    assert "b.claude" in state.pools["chat"].standby_models


BAD_CREDENTIALS = {
    "no token": {},
    "a wrong token": {"Authorization": "Bearer not-the-token"},
    "another scheme": {"Authorization": f"Basic {TOKEN}"},
}


async def test_an_unauthenticated_write_gets_401_and_changes_nothing(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/state.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with Simulator(fleet()) as sim:
        config = write_config(tmp_path, sim.base_url, store, port)
        async with daemon_process(config) as daemon:  # one daemon, asked with each credential
            await daemon.wait_for("daemon.started")
            async with httpx.AsyncClient(base_url=base) as http:
                for name, headers in BAD_CREDENTIALS.items():
                    body = {"target": "a", "for": "1h", "reason": "x"}
                    resp = await http.post("/v1/overrides", json=body, headers=headers)
                    assert resp.status_code == 401, name
                    assert TOKEN not in resp.text, name
                    gone = await http.delete("/v1/overrides/a", headers=headers)
                    assert gone.status_code == 401, name
                    listed = await http.get("/v1/overrides")  # reads are open under auth: write
                    assert listed.json() == {"overrides": []}, name
            daemon.signal(signal.SIGTERM)
            assert await daemon.finish() == 0
            assert not daemon.named("override.set")
            assert all(TOKEN not in json.dumps(e) for e in daemon.events)
    state = await read_state(store)
    assert state is not None
    assert state.providers["a"].override_until is None
    assert state.models["a.gpt-4o"].is_active


async def test_auth_read_closes_reads_but_leaves_livez_open(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/state.db"
    port = free_port()
    async with Simulator(fleet()) as sim:
        config = write_config(tmp_path, sim.base_url, store, port, auth="read")
        async with daemon_process(config) as daemon:
            await daemon.wait_for("daemon.started")
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                assert (await http.get("/v1/state")).status_code == 401
                assert (await http.get("/metrics")).status_code == 401
                assert (await http.get("/livez")).status_code == 200
                good = {"Authorization": f"Bearer {TOKEN}"}
                state = await http.get("/v1/state", headers=good)
                assert state.status_code == 200
                assert state.json()["overrides"] == []
            code, out, _ = await cli("overrides", "-c", str(config))  # the CLI sends the token
            assert (code, out.strip()) == (0, "no overrides")
            daemon.signal(signal.SIGTERM)
            assert await daemon.finish() == 0


async def test_a_drain_of_an_unknown_target_exits_1_with_one_line(tmp_path: Path) -> None:
    port = free_port()
    async with Simulator(fleet()) as sim:
        config = write_config(tmp_path, sim.base_url, f"sqlite:///{tmp_path}/s.db", port)
        async with daemon_process(config) as daemon:
            await daemon.wait_for("daemon.started")
            code, _, err = await cli("drain", "nope", "--for", "5m", "-c", str(config))
            assert code == 1
            assert err.strip() == (
                "drain: the daemon refused (400): no provider or model 'nope' in the configuration"
            )
            daemon.signal(signal.SIGTERM)
            assert await daemon.finish() == 0


async def test_a_configured_window_open_now_holds_its_provider_and_shows_in_overrides(
    tmp_path: Path,
) -> None:
    store = f"sqlite:///{tmp_path}/state.db"
    port = free_port()
    opened = time.gmtime(time.time() - 60)  # a daily window that began a minute ago, in UTC
    window = (
        f'maintenance:\n  - {{id: nightly, providers: [b], start: "{opened.tm_hour:02d}:'
        f'{opened.tm_min:02d}", duration: 1h, timezone: UTC, reason: vendor upgrade}}\n'
    )
    async with Simulator(fleet()) as sim:
        config = write_config(tmp_path, sim.base_url, store, port)
        config.write_text(config.read_text() + window)
        async with daemon_process(config) as daemon:
            await daemon.wait_for("daemon.started")
            held = await daemon.wait_for("override.set", target="b")
            assert (held["source"], held["reason"]) == ("schedule:nightly", "vendor upgrade")
            moved = await daemon.wait_for("model.deactivated", model="b.claude")
            assert moved["reason"] == "maintenance_window"
            code, out, _ = await cli("overrides", "--json", "-c", str(config))
            assert code == 0
            assert [(o["target"], o["source"]) for o in json.loads(out)] == [
                ("b", "schedule:nightly")
            ]
            daemon.signal(signal.SIGTERM)
            assert await daemon.finish() == 0
