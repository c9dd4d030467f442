"""The story end to end: modelmesh-lite 0.1.1 from PyPI, unchanged, routing real requests to the
simulator; the daemon as a real process on the same YAML; `attach` in the router.

Every assertion is on the chat requests the simulator received per provider.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
from mm_support import (
    POOL,
    TOKEN,
    ask_async,
    build_client,
    daemon_process,
    mesh_yaml,
    sim_providers,
    until,
)

from modelmesh_healthd.integrations.modelmesh import attach
from modelmesh_healthd.simulator import Simulator
from service_support import free_port

ALPHA, BETA = "openai.llm.v1", "groq.api.v1"


async def test_traffic_leaves_a_down_provider_and_returns_to_it_when_it_recovers(
    tmp_path: Path,
) -> None:
    store = f"sqlite://{tmp_path}/state.db"
    config = tmp_path / "modelmesh.yaml"
    async with Simulator(sim_providers()) as sim:
        port = free_port()
        config.write_text(mesh_yaml(sim, admin_port=port))
        async with daemon_process(config, store) as daemon:
            await daemon.wait_for("daemon.started")
            client = build_client(config)
            attached = attach(
                client,
                store=store,
                poll_interval=0.2,
                admin_url=f"http://127.0.0.1:{port}",
                reports_token=TOKEN,
            )
            async with attached:
                await until(lambda: attached.reads > 0, 10, "the first read of the store")
                for _ in range(5):
                    assert await ask_async(client)
                assert sim.chat.counts() == {"alpha": 5}

                sim.set_behaviour("alpha", "server_error")
                await daemon.wait_for("provider.down", provider=ALPHA)
                await until(
                    lambda: client.pool_status(POOL)["current_model"] == "groq.llama-3.3-70b",
                    5,
                    "alpha's model on standby in the pool",
                )
                sent_to_alpha = sim.chat.counts().get("alpha", 0)
                answered = [await ask_async(client) for _ in range(10)]
                assert all(answered)
                assert sim.chat.counts().get("alpha", 0) == sent_to_alpha  # none after detection
                assert sim.chat.counts()["beta"] >= 10

                sim.set_behaviour("alpha", "healthy")
                await daemon.wait_for("provider.up", provider=ALPHA)
                await until(
                    lambda: client.pool_status(POOL)["current_model"] == "openai.gpt-4o-mini",
                    5,
                    "alpha's model reactivated in the pool",
                )
                before = sim.chat.counts()
                for _ in range(5):
                    assert await ask_async(client)
                after = sim.chat.counts()
                assert after["alpha"] - before.get("alpha", 0) == 5  # stick-until-failure order
                assert after["beta"] == before["beta"]


async def test_modelmesh_lite_alone_never_sends_traffic_back_to_a_recovered_provider(
    tmp_path: Path,
) -> None:
    config = tmp_path / "modelmesh.yaml"
    async with Simulator(sim_providers()) as sim:
        config.write_text(mesh_yaml(sim, admin_port=free_port()))
        client = build_client(config)
        for _ in range(3):
            assert await ask_async(client)
        assert sim.chat.counts() == {"alpha": 3}

        sim.set_behaviour("alpha", "server_error")
        first = await ask_async(client)
        answered = [await ask_async(client) for _ in range(5)]
        assert not first  # three attempts on alpha, then "All models exhausted"
        assert all(answered)
        assert sim.chat.counts()["alpha"] == 3 + 3

        sim.set_behaviour("alpha", "healthy")
        await asyncio.sleep(2.0)
        for _ in range(5):
            assert await ask_async(client)
        assert sim.chat.counts()["alpha"] == 3 + 3  # never again
        assert client.pool_status(POOL)["standby"] == 1


async def test_the_routers_served_requests_reach_the_daemon_as_usage(tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path}/state.db"
    config = tmp_path / "modelmesh.yaml"
    async with Simulator(sim_providers()) as sim:
        port = free_port()
        config.write_text(mesh_yaml(sim, admin_port=port))
        async with (
            daemon_process(config, store) as daemon,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http,
        ):
            await daemon.wait_for("daemon.started")
            client = build_client(config)
            admin = f"http://127.0.0.1:{port}"
            async with attach(client, store=store, admin_url=admin, reports_token=TOKEN):
                tokens = 0
                for _ in range(4):
                    response = await asyncio.to_thread(
                        client.chat.completions.create,
                        model=POOL,
                        messages=[{"role": "user", "content": "hi"}],
                    )
                    tokens += response.usage.total_tokens
                deadline = time.monotonic() + 10
                while True:
                    body = (await http.get(f"/v1/providers/{ALPHA}")).json()
                    if body["state"]["total_quota_used"] == 4:
                        break
                    assert time.monotonic() < deadline, body["state"]
                    await asyncio.sleep(0.1)
                assert body["models"]["openai.gpt-4o-mini"]["tokens_used"] == tokens
