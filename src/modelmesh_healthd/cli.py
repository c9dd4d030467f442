"""The `modelmesh-healthd` command: a thin layer over Config and the daemon."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from modelmesh_healthd import __version__
from modelmesh_healthd.config import Config, ConfigError, load_config

__all__ = ["main"]

EXIT_OK, EXIT_UNHEALTHY, EXIT_BAD_CONFIG = 0, 1, 2


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
    schema.set_defaults(handler=_schema)
    return parser


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


def _schema(args: argparse.Namespace) -> int:
    schema = Config.model_json_schema(mode="validation")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "modelmesh-healthd configuration",
    }
    print(json.dumps(schema, indent=2))
    return EXIT_OK
