"""The simulator: control by Python, HTTP and scenario; request counts; the command line."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from modelmesh_healthd.simulator import (
    Behaviour,
    Scenario,
    ScenarioError,
    SimProvider,
    Simulator,
)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def test_each_provider_has_its_own_base_url_under_one_server(sim: Simulator) -> None:
    assert sim.base_url.startswith("http://127.0.0.1:")
    urls = {sim.url(name) for name in sim.providers}
    assert len(urls) == len(sim.providers)
    assert sim.url("openai") == f"{sim.base_url}/openai/v1"


async def test_a_behaviour_set_from_python_changes_the_next_answer(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    headers = {"authorization": "Bearer sk-sim-openai-0000"}
    assert (await http.get(f"{sim.url('openai')}/models", headers=headers)).status_code == 200
    sim.set_behaviour("openai", Behaviour.INSUFFICIENT_QUOTA)
    r = await http.get(f"{sim.url('openai')}/models", headers=headers)
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "insufficient_quota"


async def test_a_behaviour_set_over_http_changes_the_next_answer(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    r = await http.put(f"{sim.base_url}/_sim/providers/anthropic", json={"behaviour": "overloaded"})
    assert r.status_code == 200
    assert r.json()["behaviour"] == "overloaded"
    answer = await http.get(f"{sim.url('anthropic')}/v1/models")
    assert answer.status_code == 529
    assert answer.json()["error"]["type"] == "overloaded_error"


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("openai", {"behaviour": "sleepy"}, 400),
        ("openai", {"colour": "red"}, 400),
        ("openai", {"retry_after": "soon"}, 400),
        ("openai", [1], 400),
        ("nobody", {"behaviour": "healthy"}, 404),
    ],
)
async def test_the_control_endpoint_refuses_what_it_cannot_apply(
    sim: Simulator, http: httpx.AsyncClient, name: str, body: object, status: int
) -> None:
    r = await http.put(f"{sim.base_url}/_sim/providers/{name}", json=body)
    assert r.status_code == status
    assert sim.provider("openai").behaviour is Behaviour.HEALTHY


async def test_requests_are_counted_per_provider_and_can_be_reset(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    for _ in range(3):
        await http.get(f"{sim.url('ollama')}/api/version")
    await http.get(f"{sim.url('gemini')}/v1beta/models")
    assert sim.requests("ollama") == 3
    assert sim.requests("gemini") == 1
    listing = (await http.get(f"{sim.base_url}/_sim/providers")).json()
    assert listing["ollama"]["requests"] == 3
    await http.post(f"{sim.base_url}/_sim/counts/reset")
    assert sim.counts()["ollama"] == 0


async def test_a_missing_model_drops_out_of_the_list_and_its_own_url(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    sim.set_behaviour("openai", missing_models=["gpt-4o"])
    headers = {"authorization": "Bearer sk-sim-openai-0000"}
    listed = (await http.get(f"{sim.url('openai')}/models", headers=headers)).json()
    assert "gpt-4o" not in [m["id"] for m in listed["data"]]
    one = await http.get(f"{sim.url('openai')}/models/gpt-4o", headers=headers)
    assert (one.status_code, one.json()["error"]["code"]) == (404, "model_not_found")


async def test_a_revoked_key_is_answered_as_the_kind_answers_a_bad_key(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    sim.set_behaviour("gemini", api_key="AIza-rotated")
    r = await http.get(
        f"{sim.url('gemini')}/v1beta/models", headers={"x-goog-api-key": "AIzaSim-gemini-0000"}
    )
    assert r.status_code == 400
    assert r.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"


async def test_a_scenario_plays_its_steps_on_time() -> None:
    scenario = Scenario.from_dict(
        {
            "steps": [
                {"at": 0, "provider": "openai", "behaviour": "server_error"},
                {"at": 0.1, "provider": "openai", "behaviour": "healthy", "retry_after": 2},
            ]
        }
    )
    async with Simulator(scenario=scenario) as sim:
        seen: list[Behaviour] = []
        for _ in range(500):  # poll the behaviour every 10 ms, 5 s at most
            behaviour = sim.provider("openai").behaviour
            if not seen or seen[-1] is not behaviour:
                seen.append(behaviour)
            if behaviour is Behaviour.HEALTHY and Behaviour.SERVER_ERROR in seen:
                break
            await asyncio.sleep(0.01)
        assert seen[-2:] == [Behaviour.SERVER_ERROR, Behaviour.HEALTHY]
        assert sim.provider("openai").retry_after == 2.0


async def test_a_scenario_may_bring_its_own_providers() -> None:
    scenario = Scenario.from_dict(
        {
            "providers": [
                {"name": "groq", "kind": "openai", "api_key": "gsk", "models": ["llama"]}
            ],
            "steps": [{"at": 5, "provider": "groq", "behaviour": "hang"}],
        }
    )
    async with Simulator(scenario=scenario) as sim:
        assert list(sim.providers) == ["groq"]
        assert sim.provider("groq").models == ("llama",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"steps": [{"at": 0}]}, r"steps\[0\]: needs `at` and `provider`"),
        ({"steps": [{"at": 0, "provider": "openai", "behaviour": "nap"}]}, r"steps\[0\]"),
        ({"steps": [{"at": -1, "provider": "openai"}]}, "negative"),
        ({"steps": [], "loop": True}, "unknown scenario keys: loop"),
        ({"providers": [{"name": "x"}], "steps": []}, r"providers\[0\]"),
        ({"steps": [{"at": 5, "provider": "a"}], "repeat_every": 2}, "repeat_every"),
    ],
)
def test_a_bad_scenario_is_refused_with_the_place_named(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(ScenarioError, match=message):
        Scenario.from_dict(data)


def test_a_scenario_step_naming_an_unknown_provider_is_refused() -> None:
    scenario = Scenario.from_dict({"steps": [{"at": 0, "provider": "nobody"}]})
    with pytest.raises(ScenarioError, match="no provider 'nobody'"):
        Simulator(scenario=scenario)


def test_provider_names_must_be_plain_path_segments() -> None:
    with pytest.raises(ValueError, match="path segment"):
        SimProvider(name="a/b", kind="openai")
    with pytest.raises(ValueError, match="unknown kind"):
        SimProvider(name="a", kind="grpc")


def test_the_command_line_prints_the_urls_plays_a_scenario_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "steps:\n  - {at: 0, provider: ollama, behaviour: server_error}\n", encoding="utf-8"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelmesh_healthd.simulator",
            "--port",
            "0",
            "--scenario",
            str(scenario),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        first = proc.stdout.readline().split()
        assert len(first) == 3
        with httpx.Client(timeout=5) as http:
            state = http.get(f"{base}/_sim/providers/ollama").json()
            for _ in range(50):  # the scenario's step at 0 s runs right after start
                if state["behaviour"] == "server_error":
                    break
                state = http.get(f"{base}/_sim/providers/ollama").json()
            assert state["behaviour"] == "server_error"
            assert http.get(f"{base}/ollama/api/version").status_code == 500
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_the_command_line_refuses_a_bad_scenario_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"steps": [{"at": "later", "provider": "openai"}]}), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "modelmesh_healthd.simulator", "--scenario", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "steps[0]" in done.stderr
