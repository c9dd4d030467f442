"""A command imports what it needs and no more: the modules loaded, not the time taken.

Every command starts a Python process, and most of its start-up is importing. `-V`, `--help` and
a mistyped option need only the parser; `validate` needs the configuration, not the stores, the
probes, asyncio or the daemon's logging. Each case runs `main` in a fresh interpreter and reads
`sys.modules` after it returns.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import CONFIG

_PROBE = """
import json, sys
from modelmesh_healthd.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def modules_after(args: list[str]) -> tuple[int, set[str]]:
    """(exit code, modules imported) of `modelmesh-healthd ARGS` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"])


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Those of `names` imported, a package counting when any of its modules is."""
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


# What the parser alone must not pull in: each is tens to hundreds of milliseconds of CPU.
NOT_FOR_THE_PARSER = (
    "pydantic",
    "yaml",
    "asyncio",
    "structlog",
    "modelmesh_healthd.config.models",
    "modelmesh_healthd.config.loader",
    "modelmesh_healthd.state.events",
    "modelmesh_healthd.state.policy",
    "modelmesh_healthd.storage.base",
    "modelmesh_healthd.storage.manager",
)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["-V"], 0),
        (["--help"], 0),
        (["validate", "--help"], 0),
        (["status", "--help"], 0),
        (["validate", "--no-such-option"], 2),
    ],
    ids=["-V", "--help", "validate --help", "status --help", "a mistyped option"],
)
def test_the_parser_alone_imports_no_configuration_core_or_store(
    args: list[str], code: int
) -> None:
    exited, modules = modules_after(args)
    assert exited == code
    assert loaded(modules, NOT_FOR_THE_PARSER) == []


def test_validate_imports_the_configuration_but_no_store_probe_or_event_loop() -> None:
    exited, modules = modules_after(["validate", str(CONFIG / "demo.yaml")])
    assert exited == 0
    assert loaded(modules, ("modelmesh_healthd.config.models", "pydantic", "yaml")) == [
        "modelmesh_healthd.config.models",
        "pydantic",
        "yaml",
    ]
    unneeded = (
        "asyncio",
        "structlog",
        "httpx",
        "modelmesh_healthd.storage.base",
        "modelmesh_healthd.storage.manager",
        "modelmesh_healthd.state.events",
        "modelmesh_healthd.state.transition",
        "modelmesh_healthd.probes",
        "modelmesh_healthd.daemon.service",
        "modelmesh_healthd.daemon.check_command",
        "modelmesh_healthd.simulator",
    )
    assert loaded(modules, unneeded) == []


def test_health_reads_the_admin_section_without_the_other_sections_or_the_loader(
    tmp_path: Path,
) -> None:
    # A container's HEALTHCHECK runs it every few seconds for as long as the daemon runs.
    exited, modules = modules_after(["health", "--heartbeat", str(tmp_path / "missing")])
    assert exited == 1
    assert loaded(modules, ("modelmesh_healthd.config.admin",)) == [
        "modelmesh_healthd.config.admin"
    ]
    unneeded = (
        "modelmesh_healthd.config.models",
        "modelmesh_healthd.config.loader",
        "modelmesh_healthd.config.root",
        "asyncio",
        "modelmesh_healthd.storage.base",
    )
    assert loaded(modules, unneeded) == []
