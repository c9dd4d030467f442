"""The `modelmesh-healthd` command: a thin layer over Config and the daemon."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelmesh_healthd import __version__
from modelmesh_healthd.config import Config, ConfigError, load_config

__all__ = ["main"]

EXIT_OK, EXIT_UNHEALTHY, EXIT_BAD_CONFIG = 0, 1, 2


def _demo_file(name: str) -> str:
    """A file of the demo: packaged in the wheel, or config/ of a source checkout."""
    packaged = Path(__file__).resolve().parent / "_demo" / name
    if packaged.is_file():
        return str(packaged)
    return str(Path(__file__).resolve().parents[2] / "config" / name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return EXIT_BAD_CONFIG
    code: int = args.handler(args)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelmesh-healthd",
        description="Health daemon for ModelMesh: probes AI providers and keeps pools true.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND")

    validate = sub.add_parser("validate", help="check a configuration file (exit 0 ok, 2 bad)")
    validate.add_argument("config", metavar="FILE")
    validate.add_argument("--show", action="store_true", help="print the mesh it describes")
    validate.set_defaults(handler=_validate)

    schema = sub.add_parser("schema", help="print the JSON Schema of the configuration")
    schema.add_argument(
        "--markdown", action="store_true", help="the configuration reference as Markdown tables"
    )
    schema.set_defaults(handler=_schema)

    run = sub.add_parser("run", help="run the daemon (until SIGTERM/SIGINT; SIGHUP reloads)")
    _config_arg(run)
    run.add_argument("--store", metavar="URL", help="state store URL (overrides storage.url)")
    _log_args(run)
    run.set_defaults(handler=_run)

    check = sub.add_parser(
        "check", help="probe every provider once (exit 0 all healthy, 1 not, 2 bad config)"
    )
    _config_arg(check)
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument(
        "--provider", metavar="NAME", action="append", help="probe only NAME (repeatable)"
    )
    check.set_defaults(handler=_check)

    demo = sub.add_parser(
        "demo", help="run the daemon against simulated providers with scripted outages"
    )
    demo.add_argument("--duration", type=float, default=45.0, metavar="SECONDS")
    demo.add_argument("--config", metavar="FILE", default=_demo_file("demo.yaml"))
    demo.add_argument("--scenario", metavar="FILE", default=_demo_file("demo-scenario.yaml"))
    demo.add_argument("--store", metavar="URL", help="state store (default: ./state/demo.db)")
    _log_args(demo)
    demo.set_defaults(handler=_demo)

    status = sub.add_parser("status", help="show the persisted state (read-only)")
    where = status.add_mutually_exclusive_group()
    where.add_argument("-c", "--config", metavar="FILE", help="read the store this config names")
    where.add_argument("--store", metavar="URL", help="read this store")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument(
        "--history", action="store_true", help="add availability over 1h, 24h, 7d and 30d"
    )
    status.set_defaults(handler=_status)

    health = sub.add_parser(
        "health",
        help="is the running daemon making progress? (exit 0 yes, 1 no; for HEALTHCHECK)",
    )
    health.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        default=os.environ.get("MODELMESH_HEALTHD_CONFIG"),
        help="the daemon's configuration; only its admin: section is read "
        "(default: $MODELMESH_HEALTHD_CONFIG, else admin on 127.0.0.1:9464)",
    )
    health.add_argument(
        "--timeout", type=float, default=5.0, metavar="SECONDS", help="for the admin endpoint"
    )
    health.add_argument(
        "--heartbeat", metavar="FILE", help="read this heartbeat file instead of asking /livez"
    )
    health.set_defaults(handler=_health)
    return parser


def _config_arg(parser: argparse.ArgumentParser) -> None:
    default = os.environ.get("MODELMESH_HEALTHD_CONFIG")
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        default=default,
        required=default is None,
        help="configuration file (default: $MODELMESH_HEALTHD_CONFIG)",
    )


def _log_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-format", choices=["auto", "json", "console"])
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])


def _load(path: str) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return None


def _validate(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_BAD_CONFIG
    print(
        f"{args.config}: ok: {len(config.providers)} providers, {len(config.models)} models, "
        f"{len(config.pools)} pools"
    )
    for notice in config.notices():
        print(f"{args.config}: {notice}")
    if args.show:
        print(describe(config))
    return EXIT_OK


def describe(config: Config) -> str:
    """A readable picture of the mesh: providers with their models, then pools."""
    lines = ["", "providers:"]
    for pid, provider in config.providers.items():
        schedule = config.schedule_for(pid)
        state = "" if provider.enabled else "  (disabled)"
        lines.append(
            f"  {pid:<24} {provider.kind:<13} {provider.url}  "
            f"every {schedule.interval:g}s, timeout {schedule.timeout:g}s{state}"
        )
        for model in config.provider_models(pid):
            off = "" if config.models[model].enabled else "  (manual standby)"
            lines.append(f"      - {model} (as {config.upstream_name(model)!r}){off}")
    lines += ["", "pools:"]
    for pool in config.pools:
        lines.append(f"  {pool}: {', '.join(config.pool_members(pool))}")
    store = config.storage.url or "sqlite (default location)"
    lines += ["", f"storage: {store}, sync {config.storage.sync_policy}"]
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from modelmesh_healthd.daemon.logs import configure_logging
    from modelmesh_healthd.daemon.service import Daemon

    config = _load(args.config)
    if config is None:
        return EXIT_BAD_CONFIG
    if not _store_url_ok(args.store or config.storage.url, args.config):
        return EXIT_BAD_CONFIG
    log = config.daemon.log
    configure_logging(args.log_level or log.level, args.log_format or log.format)
    return asyncio.run(Daemon(config, store_url=args.store).run())


def _store_url_ok(url: str | None, source: str) -> bool:
    """A store URL that names no backend is a configuration error: say so before starting."""
    from modelmesh_healthd.storage import StoreURLError, open_store

    if url is None:
        return True
    try:
        open_store(url)  # builds the store object only: no I/O
    except StoreURLError as exc:
        print(f"{source}: storage.url: {exc}", file=sys.stderr)
        return False
    return True


def _demo(args: argparse.Namespace) -> int:
    from modelmesh_healthd.daemon.demo import DEMO_STORE, run_demo
    from modelmesh_healthd.daemon.logs import configure_logging
    from modelmesh_healthd.simulator.scenario import ScenarioError

    config = _load(args.config)  # validated here first, so a bad file exits 2 with its lines
    if config is None:
        return EXIT_BAD_CONFIG
    store = args.store or DEMO_STORE
    if not _store_url_ok(store, "--store"):
        return EXIT_BAD_CONFIG
    configure_logging(args.log_level or "info", args.log_format or "auto")
    try:
        code = asyncio.run(run_demo(Path(args.config), Path(args.scenario), args.duration, store))
    except (ScenarioError, ConfigError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    if code == EXIT_OK:
        print(f"\nThe state the daemon saved ({store}):\n", file=sys.stderr)
        sys.stdout.flush()
        status = argparse.Namespace(store=store, config=None, json=False)
        return _status(status)
    return code


def _check(args: argparse.Namespace) -> int:
    from modelmesh_healthd.daemon.check_command import check_round

    config = _load(args.config)
    if config is None:
        return EXIT_BAD_CONFIG
    enabled = [p for p, cfg in config.providers.items() if cfg.enabled and cfg.probed]
    wanted = args.provider or enabled
    unknown = [p for p in wanted if p not in config.providers]
    if unknown:
        print(f"{args.config}: unknown provider(s): {', '.join(unknown)}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    for notice in config.notices():
        print(f"{args.config}: {notice}", file=sys.stderr)
    wanted = [p for p in wanted if config.providers[p].probed]
    results = asyncio.run(check_round(config, wanted))
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        rows = [
            [
                r.result.provider,
                r.result.kind,
                str(r.result.outcome),
                "-" if r.result.status is None else str(r.result.status),
                _ms(r.result.latency if r.result.latency is not None else r.result.elapsed),
                "yes" if r.healthy else "NO",
                _detail(r.result.detail, r.result.model_outcomes),
            ]
            for r in results
        ]
        header = ["PROVIDER", "KIND", "OUTCOME", "HTTP", "LATENCY", "HEALTHY", "DETAIL"]
        print(_table(header, rows))
    return EXIT_OK if all(r.healthy for r in results) else EXIT_UNHEALTHY


def _status(args: argparse.Namespace) -> int:
    from modelmesh_healthd.state import DEFAULT_POLICY
    from modelmesh_healthd.storage import (
        StoreError,
        StoreURLError,
        default_store_url,
        read_snapshot,
        redact_url,
        status_table,
    )

    policy = DEFAULT_POLICY
    url = args.store
    if url is None:
        config = _load(args.config) if args.config else None
        if args.config and config is None:
            return EXIT_BAD_CONFIG
        if config is not None:
            policy = config.policy()
            url = config.storage.url
        url = url or default_store_url(os.environ)
    try:
        snapshot = asyncio.run(read_snapshot(url))
    except StoreError as exc:
        print(f"status: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG if isinstance(exc, StoreURLError) else EXIT_UNHEALTHY
    if snapshot is None:
        print(f"status: no state stored at {redact_url(url)}", file=sys.stderr)
        return EXIT_UNHEALTHY
    table = status_table(snapshot.state, policy)
    report = None
    if getattr(args, "history", False):
        from modelmesh_healthd.daemon.history_report import history_report

        names = [p.provider for p in table.providers]
        try:
            report = asyncio.run(history_report(url, names, time.time()))
        except StoreError as exc:
            print(f"status: history: {exc}", file=sys.stderr)
            return EXIT_UNHEALTHY
    if args.json:
        out = {
            "store": redact_url(url),
            "written_at": snapshot.written_at,
            "writer_id": snapshot.writer_id,
            "epoch": snapshot.epoch,
            **table.to_dict(),
        }
        if report is not None:
            from modelmesh_healthd.daemon.history_report import report_json

            out["history"] = report_json(report)
        print(json.dumps(out, indent=2))
        return EXIT_OK
    age = time.time() - snapshot.written_at
    print(
        f"store {redact_url(url)}: written {age:.0f}s ago by {snapshot.writer_id} "
        f"(epoch {snapshot.epoch})\n"
    )
    print(
        _table(
            ["PROVIDER", "HEALTH", "SCORE", "LAST PROBE", "OUTCOME", "ACTIVE", "REASON"],
            [
                [
                    p.provider,
                    p.health,
                    f"{p.score:.2f}",
                    _ago(p.last_probe),
                    p.last_outcome or "-",
                    str(p.active_models),
                    p.reason or "",
                ]
                for p in table.providers
            ],
        )
    )
    print()
    print(
        _table(
            ["POOL", "ACTIVE", "STANDBY"],
            [
                [
                    pool.pool,
                    ", ".join(pool.active) or "(none)",
                    ", ".join(f"{m} ({r})" for m, r in pool.standby),
                ]
                for pool in table.pools
            ],
        )
    )
    if report is not None:
        from modelmesh_healthd.daemon.history_report import HISTORY_HEADER, history_rows

        print()
        print(_table(HISTORY_HEADER, history_rows(report)))
    return EXIT_OK


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def _ago(timestamp: float | None) -> str:
    return "never" if timestamp is None else f"{max(0.0, time.time() - timestamp):.0f}s ago"


def _detail(detail: str | None, models: Any) -> str:
    missing = [m for m, o in models.items() if str(o) != "ok"]
    parts = [detail] if detail else []
    if missing:
        parts.append("missing: " + ", ".join(missing))
    return "; ".join(parts)


def _health(args: argparse.Namespace) -> int:
    from modelmesh_healthd.daemon.health_command import check_daemon

    healthy, reason = check_daemon(
        args.config, os.environ, timeout=args.timeout, heartbeat=args.heartbeat
    )
    # Never exit 2: Docker reserves it, and a misconfigured check is an unhealthy container.
    if healthy:
        print(f"healthy: {reason}")
        return EXIT_OK
    print(f"unhealthy: {reason}", file=sys.stderr)
    return EXIT_UNHEALTHY


def _schema(args: argparse.Namespace) -> int:
    if args.markdown:
        from modelmesh_healthd.config.reference import render_reference

        print(render_reference(), end="")
        return EXIT_OK
    schema = Config.model_json_schema(mode="validation")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "modelmesh-healthd configuration",
    }
    print(json.dumps(schema, indent=2))
    return EXIT_OK
