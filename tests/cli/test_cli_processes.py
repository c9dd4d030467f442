"""Issue 14's points that need more than one command line.

The demos run as real processes (each sets up the logging of the process it runs in, and the
terminal tests need a process on a pseudo-terminal); a command that only reads what a demo left,
or answers one input, runs through the entry point in this process (`call_cli`).
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cli_run import CONFIG, ROOT, call_cli, normalize, run_cli

from modelmesh_healthd.cli_args import build_parser
from modelmesh_healthd.daemon.demo import demo_file, timeline
from modelmesh_healthd.simulator.scenario import Scenario

DEMO_PROVIDERS = (CONFIG / "demo-scenario.yaml").read_text().split("steps:")[0]


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


# --- 1. a key-free try-it path; a base URL that is not the API -------------------------------


class _WebPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><html><body><h1>Not Found</h1></body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[str]:
    """Some other program's web server on 127.0.0.1: every path is a 404 HTML page."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WebPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_base_url_that_serves_a_web_page_is_said_not_to_be_the_api(
    tmp_path: Path, web_server: str
) -> None:
    (tmp_path / "c.yaml").write_text(
        "http: {trust_env: false}\n"
        f"providers:\n  openai: {{kind: openai, base_url: '{web_server}/v1', api_key: sk-x}}\n"
        "models:\n  openai.gpt-4o: {provider: openai}\n"
    )
    ran = call_cli(["check", "c.yaml"], tmp_path)
    assert ran.render() == (
        "exit 1\n--- stdout\n"
        "PROVIDER  KIND  OUTCOME  HTTP  LATENCY  HEALTHY  DETAIL\n"
        "openai  openai  protocol_error  404  N ms  NO  HTTP 404 an HTML page: not the openai API "
        "(wrong base URL, or another server on that port?)\n"
        "--- stderr\n"
    )


# --- 4. a consistent command line ---------------------------------------------------------------


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_command_has_a_description_and_every_option_help_with_its_default(
    name: str,
) -> None:
    command = _subcommands()[name]
    assert command.description
    for action in command._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{name} {action.dest}"
        takes_value = action.nargs != 0 and action.option_strings
        if takes_value:
            assert "(default: " in action.help, f"{name} {action.option_strings}"


def _on_a_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run with stdout on a pseudo-terminal (colour is only ever used on one)."""
    master, slave = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | env
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelmesh_healthd", *args],
        cwd=cwd,
        env=environ,
        stdout=slave,
        stderr=subprocess.DEVNULL,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=60) in (0, 1)
    return b"".join(chunks).decode()


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--demo"],
        ["demo", "--duration", "1", "--store", "memory:", "--log-format", "console"],
    ],
    ids=["the check table", "console logs"],
)
def test_no_color_turns_colour_off_on_a_terminal(tmp_path: Path, args: list[str]) -> None:
    assert "\x1b[" in _on_a_terminal(args, tmp_path, {})
    assert "\x1b[" not in _on_a_terminal(args, tmp_path, {"NO_COLOR": "1"})


def test_status_without_arguments_reads_what_the_demo_saved(tmp_path: Path) -> None:
    assert run_cli(["demo", "--duration", "1", "--log-level", "error"], tmp_path).code == 0
    ran = call_cli(["status"], tmp_path)
    assert ran.code == 0
    assert ran.stdout.splitlines()[0] == (
        "store sqlite:./state/state.db: written Ns ago by HOST:PID:demo (epoch N)"
    )


# --- 5. the demo tells its story ------------------------------------------------------------------


def test_the_demo_timeline_says_what_happens_when_and_what_the_daemon_does() -> None:
    scenario = Scenario.load(demo_file("demo-scenario.yaml"))
    lines = timeline(scenario, 45, "the demo stops and prints the state it saved (S)")
    assert lines == [
        "     0 s  llamacpp   answers 503 'loading model': its models stay active while it loads "
        "(provider.loading)",
        "     4 s  groq       rate limited (Retry-After 6 s): it stays up and is probed again "
        "when the wait is over",
        "     8 s  anthropic  its key is revoked: down at once, its models go to standby",
        "    12 s  openai     an outage (HTTP 500): down after repeated failures, its models go "
        "to standby",
        "    20 s  llamacpp   finishes loading: answers correctly (provider.loaded)",
        "    24 s  groq       the rate limit ends (provider.throttle_ended)",
        "    30 s  openai     recovers: up again after consecutive successes, its models return "
        "(provider.up)",
        "    45 s  the demo stops and prints the state it saved (S)",
    ]


def test_the_demo_prints_its_timeline_before_it_starts(tmp_path: Path) -> None:
    ran = run_cli(
        ["demo", "--duration", "1", "--store", "memory:", "--log-level", "error"], tmp_path
    )
    assert ran.code == 0
    assert ran.stderr.splitlines()[:4] == [
        "The demo: 6 simulated providers for 1 s (starting fresh).",
        "What happens, and what the daemon should do about it:",
        "     0 s  llamacpp  answers 503 'loading model': its models stay active while it loads "
        "(provider.loading)",
        "     1 s  the demo stops and prints the state it ended with (memory: keeps nothing)",
    ]


def test_loading_and_a_rate_limit_are_logged_once_at_each_edge_not_per_probe(
    tmp_path: Path,
) -> None:
    # The demo's configuration on a third of its intervals, so the phases can be a third as
    # long: the first probe (within one 1 s interval of the start) sees them, a loading
    # provider is probed again every 0.5 s, several times in its phase, and the demo runs on
    # for 3 s after both come back (the edge is seen within a probe).
    demo = (CONFIG / "demo.yaml").read_text()
    for slow, fast in (
        ("interval: 3s", "interval: 1s"),
        ("fast_interval: 1s", "fast_interval: 0.5s"),
    ):
        assert f"  {slow}\n" in demo
        demo = demo.replace(f"  {slow}\n", f"  {fast}\n", 1)
    (tmp_path / "demo.yaml").write_text(demo)
    (tmp_path / "s.yaml").write_text(
        DEMO_PROVIDERS + "steps:\n"
        "  - {at: 0, provider: llamacpp, behaviour: loading}\n"
        "  - {at: 0, provider: groq, behaviour: rate_limited, retry_after: 1}\n"
        "  - {at: 3, provider: llamacpp, behaviour: healthy}\n"
        "  - {at: 3, provider: groq, behaviour: healthy}\n"
    )
    args = ["demo", "demo.yaml", "--duration", "6", "--scenario", "s.yaml", "--store", "memory:"]
    ran = run_cli([*args, "--log-format", "json"], tmp_path)
    assert ran.code == 0
    logged = events(ran.stdout)
    llamacpp = [(e["event"], e.get("outcome")) for e in logged if e.get("provider") == "llamacpp"]
    assert [e for e in llamacpp if e[0] != "simulator.behaviour_set"] == [
        ("provider.loading", None),
        ("provider.loaded", "ok"),
    ]
    groq = [e["event"] for e in logged if e.get("provider") == "groq"]
    assert groq.count("provider.throttle_ended") == 1
    assert groq.index("probe.completed") < groq.index("provider.throttle_ended")


def _started(stdout: str) -> bool:
    return next(e for e in events(stdout) if e["event"] == "daemon.started")["restored"]


def test_each_demo_starts_fresh_unless_asked_to_keep_its_state(tmp_path: Path) -> None:
    demo = ["demo", "--duration", "1", "--log-format", "json", "--store", "sqlite:///demo.db"]
    first, second, kept = (
        run_cli(demo, tmp_path),
        run_cli(demo, tmp_path),
        run_cli([*demo, "--keep-state"], tmp_path),
    )
    assert (first.code, second.code, kept.code) == (0, 0, 0)
    assert (_started(first.stdout), _started(second.stdout), _started(kept.stdout)) == (
        False,
        False,
        True,
    )
    assert "(continuing from the saved state)" in kept.stderr.splitlines()[0]


def test_the_demo_will_not_replace_the_state_of_another_instance(tmp_path: Path) -> None:
    (tmp_path / "prod.yaml").write_text(
        (CONFIG / "demo.yaml").read_text().replace("instance: demo", "instance: prod")
    )
    ran = run_cli(["demo", "prod.yaml", "--duration", "1", "--log-level", "error"], tmp_path)
    assert ran.code == 0
    refused = call_cli(["demo", "--duration", "1"], tmp_path)
    assert refused.render() == (
        "exit 2\n--- stdout\n--- stderr\n"
        "demo: sqlite:./state/state.db holds the state of 'HOST:PID:prod', not a demo's: the "
        "demo will not replace it; give --store URL (or --keep-state to run on top of it)\n"
    )


def test_make_says_each_installation_step_and_lets_pip_show_its_progress(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    proc = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-n",
            "-B",
            "-C",
            str(ROOT),
            f"VENV={venv}",
            f"{venv}/.installed",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, normalize(proc.stdout, tmp_path)) == (
        0,
        'echo "[1/3] creating the virtual environment /{tmp}/venv"\n'
        "python3 -m venv /{tmp}/venv\n"
        'echo "[2/3] upgrading pip"\n'
        "/{tmp}/venv/bin/python -m pip install --upgrade --progress-bar on pip\n"
        'echo "[3/3] installing modelmesh-healthd and its test tools into /{tmp}/venv (once; '
        'about 20 s)"\n'
        "/{tmp}/venv/bin/python -m pip install --progress-bar on -e '.[dev]'\n"
        "touch /{tmp}/venv/.installed\n",
    )


# --- 6. SQLite URLs -------------------------------------------------------------------------------


def test_three_slashes_are_relative_and_four_absolute(tmp_path: Path) -> None:
    demo = ["demo", "--duration", "1", "--log-level", "error", "--store", "sqlite:///rel/demo.db"]
    assert run_cli(demo, tmp_path).code == 0
    assert (tmp_path / "rel" / "demo.db").is_file()
    absolute = call_cli(["status", "--store", f"sqlite:///{tmp_path}/rel/demo.db"], tmp_path)
    assert absolute.code == 0
    assert absolute.stdout.splitlines()[0] == (
        "store sqlite:////{tmp}/rel/demo.db: written Ns ago by HOST:PID:demo (epoch N)"
    )


def test_a_three_slash_url_that_meant_an_absolute_file_is_refused_with_the_fix(
    tmp_path: Path,
) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "state.db").write_bytes(b"")
    old_url = f"sqlite://{tmp_path}/old/state.db"  # three slashes on purpose: the old form
    ran = call_cli(["status", "--store", old_url], tmp_path)
    assert ran.render() == (
        "exit 2\n--- stdout\n--- stderr\n"
        "status: sqlite:///{tmp}/old/state.db now means the relative path {tmp}/old/state.db "
        "(SQLAlchemy's meaning), which does not exist; /{tmp}/old/state.db does: for it write "
        "sqlite:////{tmp}/old/state.db (four slashes)\n"
    )
