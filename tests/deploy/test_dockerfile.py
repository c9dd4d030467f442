"""The Dockerfile: clean under hadolint, and built the way the operations docs promise."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from modelmesh_healthd.config import AdminConfig
from tool_support import tool

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines = [
        line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions()
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--no-color", "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert json.loads(result.stdout or "null") == [], result.stdout + result.stderr
    assert result.returncode == 0


def test_the_image_is_built_in_two_stages_from_a_wheel() -> None:
    steps = _instructions()
    froms = [args for keyword, args in steps if keyword == "FROM"]
    assert len(froms) == 2
    assert froms[0].endswith(" AS build")
    assert any("pip wheel" in args for keyword, args in steps if keyword == "RUN")
    final = _final_stage()
    copies = [args for keyword, args in final if keyword == "COPY"]
    assert copies == ["--from=build /opt/modelmesh-healthd /opt/modelmesh-healthd"]


def test_the_daemon_runs_as_pid_1s_child_of_tini_unprivileged() -> None:
    final = dict(_final_stage())
    assert json.loads(final["ENTRYPOINT"]) == ["tini", "--", "modelmesh-healthd"]
    assert json.loads(final["CMD"]) == ["run"]
    user = final["USER"].split(":")[0]
    assert user.isdigit()
    assert int(user) != 0


def test_the_healthcheck_asks_the_daemon_itself() -> None:
    final = dict(_final_stage())
    options, _, command = final["HEALTHCHECK"].partition("CMD ")
    assert json.loads(command)[:2] == ["modelmesh-healthd", "health"]
    assert "--start-period=" in options


def test_state_volume_environment_and_admin_port_agree() -> None:
    final = _final_stage()
    env = " ".join(args for keyword, args in final if keyword == "ENV")
    assert "PYTHONUNBUFFERED=1" in env
    state = re.search(r"STATE_DIRECTORY=(\S+)", env)
    assert state is not None
    volume = json.loads(dict(final)["VOLUME"])
    assert volume == [state[1]]
    assert dict(final)["EXPOSE"] == str(AdminConfig().port)


def test_the_build_context_holds_what_the_build_copies() -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for keyword, args in _instructions():
        if keyword == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            assert set(sources) <= allowed, args
    assert (ROOT / "README.md").exists()  # pyproject's readme: the wheel build needs it
