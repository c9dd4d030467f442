"""The command line's parser: every command, its description, and each option's default.

One convention for the configuration file everywhere: `COMMAND FILE` or `COMMAND -c FILE`, and
`$MODELMESH_HEALTHD_CONFIG` when neither is given. Neither is required by argparse, so the usage
line does not claim so; `cli` reports a missing configuration in one line.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from modelmesh_healthd import __version__

__all__ = ["ENV_CONFIG", "build_parser", "config_args", "log_args"]

ENV_CONFIG = "MODELMESH_HEALTHD_CONFIG"


class _Help(argparse.RawDescriptionHelpFormatter):
    """Descriptions keep their line breaks; option help is wrapped as usual."""


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser; `command` in the parsed arguments names the subcommand."""
    parser = argparse.ArgumentParser(
        prog="modelmesh-healthd",
        description="Health daemon for ModelMesh: probes AI providers and keeps pools true.\n\n"
        f"Commands that read a configuration take it as FILE or -c FILE (default: ${ENV_CONFIG}).",
        formatter_class=_Help,
    )
    parser.add_argument(
        "-V",
        "--version",
        action="version",
        version=f"%(prog)s {__version__}",
        help="print the version and exit",
    )
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]}.\n\n{description}",
            formatter_class=_Help,
        )

    validate = command(
        "validate",
        "check a configuration file (exit 0 ok, 2 bad)",
        "Every problem is one line: file:line: key.path: message. Nothing is probed.",
    )
    config_args(validate)
    validate.add_argument("--show", action="store_true", help="also print the mesh it describes")
    validate.set_defaults(command="validate")

    schema = command(
        "schema",
        "print the JSON Schema of the configuration",
        "For editors and CI; --markdown prints the configuration reference instead.",
    )
    schema.add_argument(
        "--markdown", action="store_true", help="the configuration reference as Markdown tables"
    )
    schema.set_defaults(command="schema")

    run = command(
        "run",
        "run the daemon (until SIGTERM/SIGINT; SIGHUP reloads)",
        "Probes every enabled provider on its schedule, moves models between active and standby\n"
        "in every pool, and persists the state. Logs one JSON event per line unless stdout is a\n"
        "terminal.",
    )
    config_args(run)
    run.add_argument(
        "--store",
        metavar="URL",
        help="state store URL (default: the configuration's storage.url, else "
        "$STATE_DIRECTORY/state.db, else ./state/state.db)",
    )
    run.add_argument(
        "--admin-listen",
        metavar="HOST:PORT",
        help="the admin API's address (default: the configuration's admin.listen, else "
        "127.0.0.1:9464); kept across reloads",
    )
    log_args(run, "daemon.log.format, auto", "daemon.log.level, info")
    run.set_defaults(command="run")

    check = command(
        "check",
        "probe every provider once (exit 0 all healthy, 1 not, 2 bad config)",
        "Healthy means what it means to the daemon: the answer keeps the provider's models\n"
        "active (ok, degraded, rate limited, loading within its grace) and every configured\n"
        "model exists. --demo needs no keys: it starts the built-in simulator on a free\n"
        "127.0.0.1 port and checks the demo configuration against it.",
    )
    config_args(check)
    check.add_argument(
        "--demo",
        action="store_true",
        help="check the demo configuration against the built-in simulator (no keys needed)",
    )
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument(
        "--provider",
        metavar="NAME",
        action="append",
        help="probe only NAME, repeatable (default: every enabled provider)",
    )
    check.set_defaults(command="check")

    from modelmesh_healthd.daemon.demo_files import demo_file
    from modelmesh_healthd.storage import default_store_url

    demo = command(
        "demo",
        "run the daemon against simulated providers with scripted outages",
        "Prints the timeline first, runs the daemon for --duration seconds against the built-in\n"
        "simulator playing the scenario, then prints the state it saved. Each run starts fresh\n"
        "unless --keep-state is given. `status` with no arguments reads the same store.",
    )
    config_args(demo, default=str(demo_file("demo.yaml")))
    demo.add_argument(
        "--duration",
        type=float,
        default=45.0,
        metavar="SECONDS",
        help="how long the daemon runs (default: %(default)g)",
    )
    demo.add_argument(
        "--scenario",
        metavar="FILE",
        default=str(demo_file("demo-scenario.yaml")),
        help="the simulator's timeline (default: %(default)s)",
    )
    demo.add_argument(
        "--store",
        metavar="URL",
        default=default_store_url(os.environ),
        help="state store, the one run and status use by default (default: %(default)s)",
    )
    demo.add_argument(
        "--keep-state",
        action="store_true",
        help="continue from the state the previous demo saved instead of starting fresh",
    )
    log_args(demo, "auto", "info")
    demo.set_defaults(command="demo")

    status = command(
        "status",
        "show the persisted state (read-only, safe while a daemon runs)",
        "Reads the store the configuration names; with no configuration (no FILE, no -c, no\n"
        f"${ENV_CONFIG}), the default store that run and demo use.",
    )
    config_args(status, what="read the store this configuration names")
    status.add_argument(
        "--store",
        metavar="URL",
        help="read this store instead (default: the configuration's storage.url, else "
        f"{default_store_url(os.environ)})",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument(
        "--history", action="store_true", help="add availability over 1h, 24h, 7d and 30d"
    )
    status.set_defaults(command="status")

    health = command(
        "health",
        "is the running daemon making progress? (exit 0 yes, 1 no; for HEALTHCHECK)",
        "Asks the daemon's admin endpoint (/livez), or reads its heartbeat file. Only the\n"
        "configuration's admin: section is read; without a configuration, 127.0.0.1:9464.",
    )
    config_args(health, what="the daemon's configuration; only its admin: section is read")
    health.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="for the admin endpoint (default: %(default)g)",
    )
    health.add_argument(
        "--heartbeat",
        metavar="FILE",
        help="read this heartbeat file instead of asking /livez (default: ask /livez)",
    )
    health.set_defaults(command="health")
    _override_parsers(command)
    return parser


def _override_parsers(command: Any) -> None:
    """drain, undrain, overrides: clients of the running daemon's /v1/overrides."""
    target = "a provider or model id of the configuration"
    drain = command(
        "drain",
        "hold a provider or model on standby for maintenance (running daemon)",
        "Its probes go on but cannot move it until the override ends (--for) or undrain.",
    )
    drain.add_argument("target", metavar="PROVIDER|MODEL", help=target)
    drain.add_argument(
        "--for",
        dest="length",
        required=True,
        metavar="DURATION",
        help="how long, e.g. 30m or 2h (default: none, required)",
    )
    drain.add_argument(
        "--reason", default="", help="why, shown in status and events (default: empty)"
    )
    undrain = command(
        "undrain", "end a drain now; the probes decide again", "Releases what the drain held."
    )
    undrain.add_argument("target", metavar="PROVIDER|MODEL", help=target)
    listing = command(
        "overrides", "list the running daemon's overrides", "Drains and open maintenance windows."
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    for sub, name in ((drain, "drain"), (undrain, "undrain"), (listing, "overrides")):
        sub.add_argument(
            "-c",
            "--config",
            metavar="FILE",
            dest="config_option",
            help="the daemon's configuration; only its admin: section is read "
            f"(default: ${ENV_CONFIG}, else 127.0.0.1:9464 without a token)",
        )
        sub.set_defaults(command=name, file=None, config_default=None)


def config_args(
    parser: argparse.ArgumentParser,
    *,
    default: str | None = None,
    what: str = "configuration file",
) -> None:
    """FILE and -c FILE, one convention for every command; neither is required by argparse, so
    the usage line does not claim so: a missing configuration is reported by `_config_path`."""
    shown = default or f"${ENV_CONFIG}" + (
        f" = {os.environ[ENV_CONFIG]}" if os.environ.get(ENV_CONFIG) else ", unset"
    )
    parser.add_argument("file", nargs="?", metavar="FILE", help=f"{what} (same as -c FILE)")
    parser.add_argument(
        "-c", "--config", metavar="FILE", dest="config_option", help=f"{what} (default: {shown})"
    )
    parser.set_defaults(config_default=default)


def log_args(parser: argparse.ArgumentParser, fmt: str, level: str) -> None:
    """--log-format and --log-level, with the defaults this command falls back to."""
    parser.add_argument(
        "--log-format",
        choices=["auto", "json", "console"],
        help=f"auto: JSON unless stdout is a terminal (default: {fmt})",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help=f"lowest level logged (default: {level})",
    )
