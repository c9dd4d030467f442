"""A `run` daemon imports what its configuration uses: the modules loaded, not the time taken.

The replica and daemon process tests start many daemons, and most of what one spends from exec
to ready is importing. aiohttp (whose import builds two TLS contexts) is for the admin API and
the `aiohttp` transport only; h11 for the `httpx` transport only. Each case runs `main(["run",
...])` in a fresh interpreter until the daemon has finished one probe (of a provider nobody
listens for: its failure goes through the classifier), stops it with SIGTERM, and reads
`sys.modules` after `main` returns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

_PROBE = """
import json, os, signal, sys
from modelmesh_healthd.cli import main

class StopAfterFirstProbe:
    # The daemon's log lines go here (it writes them to sys.stdout): at the first probe's,
    # stop the daemon as systemd would.
    def __init__(self):
        self.stopping = False
    def write(self, text):
        if '"probe.completed"' in text and not self.stopping:
            self.stopping = True
            os.kill(os.getpid(), signal.SIGTERM)
        return len(text)
    def flush(self):
        pass

watch = sys.stdout = StopAfterFirstProbe()
code = main(sys.argv[1:])
print(json.dumps({"code": code, "probed": watch.stopping, "modules": sorted(sys.modules)}),
      file=sys.stderr)
"""

CONFIG = """
daemon: {{instance: imports, drain_timeout: 1s, summary_interval: 0,
         network_guard: {{enabled: false}}}}
schedule: {{interval: 5s, jitter: 0, timeout: 1s}}
http: {{trust_env: false, transport: {transport}}}
storage: {{url: "sqlite:{store}", sync_policy: immediate}}
admin: {admin}
providers:
  nobody: {{kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-imports-0001}}
models:
  m: {{provider: nobody, name: gpt-4o}}
pools:
  all: {{models: [m]}}
"""

ADMIN_OFF = "{enabled: false}"
ADMIN_ON = '{listen: "127.0.0.1:0"}'


def modules_of_run(tmp_path: Path, *, admin: str, transport: str = "httptools") -> set[str]:
    """The modules a `run` daemon imported by the end of its run (it probed once)."""
    config = tmp_path / "healthd.yaml"
    config.write_text(CONFIG.format(transport=transport, store=tmp_path / "state.db", admin=admin))
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "MODELMESH_HEALTHD_CONFIG")
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "run", "-c", str(config), "--log-format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=environ,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr[-2000:]
    assert report["probed"], "the daemon stopped before its first probe"
    return set(report["modules"])


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Those of `names` imported, a package counting when any of its modules is."""
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


# What a daemon on its own transport without the admin API never uses.
NOT_FOR_A_PLAIN_DAEMON = (
    "aiohttp",
    "httpx_aiohttp",
    "h11",
    "httpcore",
    "modelmesh_healthd.daemon.admin",
    "modelmesh_healthd.probes.aiohttp_client",
)


def test_a_daemon_without_the_admin_api_imports_neither_aiohttp_nor_h11(tmp_path: Path) -> None:
    modules = modules_of_run(tmp_path, admin=ADMIN_OFF)
    assert loaded(modules, NOT_FOR_A_PLAIN_DAEMON) == []
    assert loaded(modules, ("modelmesh_healthd.probes.transport", "httptools")) == [
        "modelmesh_healthd.probes.transport",
        "httptools",
    ]


def test_the_admin_api_brings_aiohttps_server_and_nothing_of_the_other_transports(
    tmp_path: Path,
) -> None:
    modules = modules_of_run(tmp_path, admin=ADMIN_ON)
    assert loaded(modules, ("aiohttp.web", "modelmesh_healthd.daemon.admin")) == [
        "aiohttp.web",
        "modelmesh_healthd.daemon.admin",
    ]
    assert (
        loaded(modules, ("httpx_aiohttp", "h11", "modelmesh_healthd.probes.aiohttp_client")) == []
    )


@pytest.mark.parametrize(
    ("transport", "needs"),
    [
        ("aiohttp", ("httpx_aiohttp", "modelmesh_healthd.probes.aiohttp_client")),
        ("httpx", ("httpcore", "h11")),
    ],
)
def test_the_other_transports_import_their_packages_when_chosen(
    tmp_path: Path, transport: str, needs: tuple[str, ...]
) -> None:
    modules = modules_of_run(tmp_path, admin=ADMIN_OFF, transport=transport)
    assert loaded(modules, needs) == list(needs)
    assert loaded(modules, ("modelmesh_healthd.daemon.admin",)) == []
