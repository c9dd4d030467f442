"""ModelMesh's own files, unchanged: `validate`, `check` and `run` against the local simulator.

Each file is copied, byte for byte, into a temporary directory with a `.env` beside it (the
documented full example reads its keys from one); the providers' base URLs point at the
simulator through `MODELMESH_HEALTHD_BASE_URL_<PROVIDER>`, so the files never change.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from command_support import call_main
from modelmesh_healthd.config import Config, load_config
from modelmesh_healthd.config.modelmesh_read import BASE_URL_ENV_PREFIX
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.kinds import CONNECTORS
from modelmesh_healthd.simulator import SimProvider, Simulator
from service_support import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "modelmesh"
FILES = sorted(FIXTURES.glob("*.yaml"))
SECRET = "sk-fixture-secret-7f3a"
KEY_NAMES = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GROQ_API_KEY",
    "HF_API_KEY",
    "DEEPSEEK_API_KEY",
)


def place(path: Path, where: Path) -> Path:
    """The file, unchanged, in `where`, with the keys in a `.env` beside it."""
    copy = where / path.name
    shutil.copyfile(path, copy)
    assert copy.read_bytes() == path.read_bytes()
    (where / ".env").write_text("".join(f"{k}={SECRET}\n" for k in KEY_NAMES))
    return copy


def base_env(copy: Path) -> dict[str, str]:
    """A bare environment, with the keys in it unless the file reads them from its `.env`."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}
    if "PYTHONPATH" in os.environ:  # the code under test, when it is not the installed one
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    if "modelmesh.dotenv.v1" not in copy.read_text(encoding="utf-8"):
        env |= key_env()
    return env


def key_env() -> dict[str, str]:
    return dict.fromkeys(KEY_NAMES, SECRET)


def env_name(provider: str) -> str:
    return BASE_URL_ENV_PREFIX + "".join(c if c.isalnum() else "_" for c in provider.upper())


def simulated(config: Config) -> list[SimProvider]:
    """One simulated provider per probed provider of the file, serving the models it names."""
    return [
        SimProvider(
            name=pid,
            kind=provider.kind,
            api_key=SECRET if provider.api_key is not None else None,
            models=tuple(config.upstream_name(m) for m in config.provider_models(pid)),
        )
        for pid, provider in config.providers.items()
        if provider.probed
    ]


def modelmesh_url(sim: Simulator, pid: str) -> str:
    """The `base_url` a ModelMesh user would write for simulated provider `pid`.

    ModelMesh's connectors add their own path (`/v1` for OpenAI) to the base URL; the daemon
    does the same, so the URL to write is the simulator's without that part.
    """
    url = sim.url(pid)
    spec = CONNECTORS.get(pid)
    if spec is not None and spec.append and url.endswith(spec.append):
        url = url[: -len(spec.append)]
    return url + (spec.strip if spec is not None else "")


@asynccontextmanager
async def simulator_for(copy: Path) -> AsyncIterator[tuple[Simulator, dict[str, str]]]:
    config = load_config(copy, environ=key_env())
    async with Simulator(simulated(config)) as sim:
        env = base_env(copy) | {env_name(pid): modelmesh_url(sim, pid) for pid in sim.providers}
        yield sim, env


async def cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """`modelmesh-healthd ARGS` through the entry point, with exactly `env`, in `cwd`, on a
    thread of its own (the simulator answers on this loop). Each file also loads in a real
    process with the same bare environment: the daemon process test below."""
    done = await asyncio.to_thread(call_main, args, cwd=cwd, env=env)
    return done.code, done.stdout, done.stderr


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
async def test_each_file_validates_unchanged(path: Path, tmp_path: Path) -> None:
    copy = place(path, tmp_path)
    code, out, err = await cli("validate", "--show", copy.name, env=base_env(copy), cwd=tmp_path)
    assert (code, err) == (0, "")
    assert f"{copy.name}: ok: " in out
    assert "note: read as a ModelMesh file" in out
    assert SECRET not in out


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
async def test_each_file_checks_ok_against_the_simulator(path: Path, tmp_path: Path) -> None:
    copy = place(path, tmp_path)
    async with simulator_for(copy) as (sim, env):
        code, out, err = await cli("check", "-c", copy.name, "--json", env=env, cwd=tmp_path)
        assert "Traceback" not in err
        results = {r["provider"]: r for r in json.loads(out)}
        assert {p: r["outcome"] for p, r in results.items()} == dict.fromkeys(sim.providers, "ok")
        assert code == 0
        assert all(sim.requests(name) > 0 for name in sim.providers)
    assert SECRET not in out + err


# The files leave admin.listen at its default, 127.0.0.1:9464, and run as they are: the admin API
# moves to a free port by the command line, so no other test or program on 9464 is in the way.
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
async def test_each_file_starts_the_daemon_process_which_stops_cleanly(
    path: Path, tmp_path: Path
) -> None:
    copy = place(path, tmp_path)
    port = free_port()
    async with simulator_for(copy) as (_, env):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "modelmesh_healthd",
            "run",
            "-c",
            copy.name,
            "--store",
            "memory://",
            "--admin-listen",
            f"127.0.0.1:{port}",
            "--log-format",
            "json",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
        assert proc.stdout is not None
        lines: list[str] = []
        try:
            async with asyncio.timeout(30):
                while '"daemon.started"' not in (line := (await proc.stdout.readline()).decode()):
                    assert line, "the daemon exited before it started:\n" + "".join(lines)
                    lines.append(line)
            async with httpx.AsyncClient() as client:
                live = await client.get(f"http://127.0.0.1:{port}/livez")
            assert live.status_code == 200
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            rest, _ = await proc.communicate()
    logs = "".join(lines) + line + rest.decode()
    assert proc.returncode == 0, logs[-2000:]
    assert '"daemon.stopped"' in logs
    assert "Traceback" not in logs
    assert SECRET not in logs


class _NoStagger(random.Random):
    """Every first probe at once: the test need not wait out the file's 30 s stagger."""

    def random(self) -> float:
        return 0.0


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
async def test_each_file_runs_the_daemon_which_finds_every_provider_up(
    path: Path, tmp_path: Path
) -> None:
    copy = place(path, tmp_path)
    async with simulator_for(copy) as (sim, env):
        config = load_config(copy, environ=env)
        # In-process, the admin endpoint moves to a free port: the file's default (9464) is the
        # process test's above, which may run at the same time on another worker.
        admin = config.admin.model_copy(update={"listen": "127.0.0.1:0"})
        config = config.model_copy(update={"admin": admin})
        daemon = Daemon(config, store_url="memory://", environ=env, rng=_NoStagger())
        with capture_logs() as logs:
            task = asyncio.create_task(daemon.run())
            try:
                async with asyncio.timeout(20):
                    while not all(_probed(logs, name) for name in sim.providers):
                        assert not task.done(), task.result()
                        await asyncio.sleep(0.05)
            finally:
                daemon.request_stop("test")
                code = await asyncio.wait_for(task, 15)
    assert code == 0
    assert all(daemon.state.providers[name].available for name in sim.providers)
    assert SECRET not in repr(logs)


def _probed(logs: list[dict[str, Any]], provider: str) -> bool:
    return any(
        e["event"] == "probe.completed"
        and e.get("provider") == provider
        and e.get("outcome") == "ok"
        for e in logs
    )
