"""`modelmesh-healthd check`: one probe round, verdicts as PROVIDERS.md says, exit codes.

The healthy fleet runs `check` as a real process; the other cases call the command line's entry
point in this process (on a thread of its own, while the simulator answers on this loop): what
they show is the verdict and the exit code for one input, not the process.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from command_support import call_main
from modelmesh_healthd.simulator import DEFAULT_KEYS, Simulator


def config_for(sim: Simulator) -> str:
    def key(kind: str) -> str:
        return f"api_key: {DEFAULT_KEYS[kind]}" if DEFAULT_KEYS[kind] else ""

    lines = ["http: {trust_env: false}", "schedule: {timeout: 1s}", "providers:"]
    for name, provider in sim.providers.items():
        if provider.kind == "http":
            continue
        extra = ", api_version: '2024-10-21'" if provider.kind == "azure-openai" else ""
        lines.append(
            f'  {name}: {{kind: {provider.kind}, base_url: "{sim.url(name)}", {key(provider.kind)}'
            f"{extra}}}"
        )
    lines += [
        "models:",
        "  openai.gpt-4o: {provider: openai, name: gpt-4o}",
        "  openai.mini: {provider: openai, name: gpt-4o-mini}",
    ]
    return "\n".join(lines) + "\n"


async def check(config: Path, *args: str) -> tuple[int, str, str]:
    done = await asyncio.to_thread(call_main, ["check", "-c", str(config), *args])
    return done.code, done.stdout, done.stderr


async def check_process(config: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "modelmesh_healthd",
        "check",
        "-c",
        str(config),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def verdicts(
    config: Path, *args: str, run: Callable[..., Awaitable[tuple[int, str, str]]] = check
) -> tuple[int, dict[str, dict[str, Any]]]:
    code, out, err = await run(config, "--json", *args)
    assert "Traceback" not in err
    return code, {r["provider"]: r for r in json.loads(out)}


async def test_a_healthy_fleet_exits_0_with_every_provider_ok(tmp_path: Path) -> None:
    async with Simulator() as sim:
        config = tmp_path / "c.yaml"
        config.write_text(config_for(sim))
        code, results = await verdicts(config, run=check_process)
        every_kind_but_http = [n for n, p in sim.providers.items() if p.kind != "http"]
    assert code == 0
    assert {name: r["outcome"] for name, r in results.items()} == dict.fromkeys(
        every_kind_but_http, "ok"
    )
    assert all(r["healthy"] for r in results.values())
    assert results["openai"]["models"] == {"openai.gpt-4o": "ok", "openai.mini": "ok"}


@pytest.mark.parametrize(
    ("provider", "behaviour", "changes", "outcome"),
    [
        ("openai", "rate_limited", {}, "rate_limited"),
        ("openai", "insufficient_quota", {}, "quota_exhausted"),
        ("openai", "unauthorized", {}, "auth_invalid"),
        ("anthropic", "payment_required", {}, "quota_exhausted"),
        ("anthropic", "overloaded", {}, "overloaded"),
        ("gemini", "key_revoked", {}, "auth_invalid"),
        ("openrouter", "payment_required", {}, "quota_exhausted"),
        ("local", "loading", {}, "loading"),
        ("ollama", "reset", {}, "connect_error"),
        ("azure-openai", "server_error", {}, "server_error"),
        ("openai", "healthy", {"missing_models": ["gpt-4o-mini"]}, "model_not_found"),
    ],
)
async def test_each_trap_gets_its_verdict_and_exit_1(
    tmp_path: Path, provider: str, behaviour: str, changes: dict[str, Any], outcome: str
) -> None:
    async with Simulator() as sim:
        config = tmp_path / "c.yaml"
        config.write_text(config_for(sim))
        sim.set_behaviour(provider, behaviour, **changes)
        code, results = await verdicts(config, "--provider", provider)
    assert list(results) == [provider]
    assert results[provider]["outcome"] == outcome
    # As in the daemon: a rate-limited provider is up, and a loading one keeps its models
    # active for the loading grace.
    healthy = outcome in ("rate_limited", "loading")
    assert results[provider]["healthy"] is healthy
    assert code == (0 if healthy else 1)


async def test_loading_is_unhealthy_when_the_policy_grants_no_loading_grace(
    tmp_path: Path,
) -> None:
    async with Simulator() as sim:
        config = tmp_path / "c.yaml"
        config.write_text(config_for(sim) + "health: {loading_grace: 0s}\n")
        sim.set_behaviour("local", "loading")
        code, results = await verdicts(config, "--provider", "local")
    assert (code, results["local"]["outcome"], results["local"]["healthy"]) == (1, "loading", False)


async def test_the_table_names_each_provider_and_its_verdict(tmp_path: Path) -> None:
    async with Simulator() as sim:
        config = tmp_path / "c.yaml"
        config.write_text(config_for(sim))
        sim.set_behaviour("gemini", "key_revoked")
        code, out, _ = await check(config)
    assert code == 1
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["PROVIDER", "KIND", "OUTCOME"]
    gemini = next(r for r in rows if r.startswith("gemini"))
    assert "auth_invalid" in gemini
    assert "NO" in gemini


async def test_an_unknown_provider_or_a_bad_config_exits_2(tmp_path: Path) -> None:
    async with Simulator() as sim:
        config = tmp_path / "c.yaml"
        config.write_text(config_for(sim))
        code, _, err = await check(config, "--provider", "nope")
    assert code == 2
    assert "check: --provider nope: unknown provider; known: " in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("providers: {x: {kind: nope}}\n")
    code, _, err = await check(bad)
    assert code == 2
    assert "providers.x.kind: must be one of" in err
