"""The `modelmesh-healthd` command: a thin layer over Config and the daemon.

One convention for the configuration file everywhere: `COMMAND FILE` or `COMMAND -c FILE`, and
`$MODELMESH_HEALTHD_CONFIG` when neither is given.

Each command imports what it needs when it runs: `-V`, `--help` and a mistyped option answer
without the configuration's models, the health core or the stores, and `validate` without the
stores and asyncio (tests/cli/test_cli_imports.py).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from modelmesh_healthd.cli_args import ENV_CONFIG, build_parser

if TYPE_CHECKING:
    import asyncio

    from modelmesh_healthd.config import Config
    from modelmesh_healthd.state import HealthPolicy

__all__ = ["main"]

EXIT_OK, EXIT_UNHEALTHY, EXIT_BAD_CONFIG = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = _HANDLERS.get(getattr(args, "command", ""))
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_CONFIG
    return handler(args)


def _config_path(args: argparse.Namespace, *, required: bool = True) -> tuple[bool, str | None]:
    """The configuration the command line names: (ok, path). Prints why when not ok."""
    given = [p for p in (args.file, args.config_option) if p is not None]
    if len(set(given)) > 1:
        print(
            f"{_prog(args)}: two configuration files given ({given[0]}, {given[1]}): "
            "give FILE or -c FILE",
            file=sys.stderr,
        )
        return False, None
    path = given[0] if given else (args.config_default or os.environ.get(ENV_CONFIG) or None)
    if path is None and required:
        print(
            f"{_prog(args)}: no configuration file: give FILE or -c FILE, or set ${ENV_CONFIG}",
            file=sys.stderr,
        )
        return False, None
    return True, path


def _prog(args: argparse.Namespace) -> str:
    return str(args.command)


def _load(path: str) -> Config | None:
    # The configuration's modules (pydantic, the models) only for the commands that read one:
    # `-V`, `--help` and a mistyped option answer without them.
    from modelmesh_healthd.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return None


def _validate(args: argparse.Namespace) -> int:
    ok, path = _config_path(args)
    config = _load(path) if ok and path else None
    if config is None:
        return EXIT_BAD_CONFIG
    print(
        f"{path}: ok: {len(config.providers)} providers, {len(config.models)} models, "
        f"{len(config.pools)} pools"
    )
    for notice in config.notices():
        print(f"{path}: {notice}")
    if config.modelmesh is not None:
        print("\n".join(f"  note: {line}" for line in config.modelmesh.summary()))
    if args.show:
        from modelmesh_healthd.cli_show import describe

        print(describe(config))
        if config.modelmesh is not None and config.modelmesh.details():
            print("\nModelMesh settings:\n" + "\n".join(config.modelmesh.details()))
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    import asyncio

    ok, path = _config_path(args)
    config = _load(path) if ok and path else None
    if config is None or path is None:
        return EXIT_BAD_CONFIG
    source = "--store" if args.store else f"{path}: storage.url"
    if not _store_url_ok(args.store or config.storage.url, source):
        return EXIT_BAD_CONFIG
    if args.admin_listen is not None:
        config = _with_admin_listen(config, args.admin_listen)
        if config is None:
            return EXIT_BAD_CONFIG
    # The daemon's modules only once the configuration is good: a bad one is refused quickly.
    from modelmesh_healthd.daemon.logs import configure_logging
    from modelmesh_healthd.daemon.service import Daemon

    log = config.daemon.log
    configure_logging(args.log_level or log.level, args.log_format or log.format)
    with asyncio.Runner(loop_factory=loop_factory(config.daemon.event_loop)) as runner:
        return runner.run(Daemon(config, store_url=args.store).run())


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop `run` uses for `daemon.event_loop` (None: asyncio's own).

    uvloop is imported only when chosen (or by `auto`, when installed): the daemon spends a
    good part of its CPU per probe in the loop's own callbacks and transports, which uvloop
    runs in C (docs/benchmarks.md).
    """
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":  # validation checked it is installed; it went away since
            raise
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _with_admin_listen(config: Config, listen: str) -> Config | None:
    """`config` with the admin API on `listen` (the file unchanged); None: said why, on stderr.

    A reload keeps the running admin settings, so the override lasts as long as the process.
    """
    from pydantic import ValidationError

    admin = config.admin
    try:
        checked = type(admin).model_validate(
            admin.model_dump(exclude_unset=True) | {"listen": listen}
        )
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        print(f"--admin-listen: {reason}", file=sys.stderr)
        return None
    return config.model_copy(update={"admin": checked})


def _store_url_ok(url: str | None, source: str) -> bool:
    """A store URL that names no backend is a configuration error: say so before starting."""
    from modelmesh_healthd.storage import StoreURLError, open_store

    if url is None:
        return True
    try:
        open_store(url)  # builds the store object only: no I/O
    except StoreURLError as exc:
        print(f"{source}: {exc}", file=sys.stderr)
        return False
    moved = _old_sqlite_meaning(url)
    if moved is not None:
        print(f"{source}: {moved}", file=sys.stderr)
        return False
    return True


def _old_sqlite_meaning(url: str) -> str | None:
    """Catch a `sqlite:///abs/path.db` written before it meant a relative path.

    `sqlite:///var/x.db` used to mean `/var/x.db`; it now means `var/x.db` (SQLAlchemy's
    meaning). When the relative file does not exist and the absolute one does, the URL almost
    surely means the old file: starting on a new, empty one would lose the state quietly.
    """
    if not url.lower().startswith("sqlite:///") or url.lower().startswith("sqlite:////"):
        return None
    relative = url[len("sqlite:///") :].split("?", 1)[0]
    if Path(relative).exists() or not Path("/" + relative).exists():
        return None
    return (
        f"{url} now means the relative path {relative} (SQLAlchemy's meaning), which does not "
        f"exist; /{relative} does: for it write sqlite:////{relative} (four slashes)"
    )


def _check(args: argparse.Namespace) -> int:
    import asyncio

    from modelmesh_healthd.daemon.demo_files import demo_file

    if args.demo and (args.file or args.config_option):
        print("check: --demo checks the demo configuration: give no FILE or -c", file=sys.stderr)
        return EXIT_BAD_CONFIG
    ok, path = (True, str(demo_file("demo.yaml"))) if args.demo else _config_path(args)
    config = _load(path) if ok and path else None
    if config is None:
        return EXIT_BAD_CONFIG
    # The probes and the daemon's modules only once the configuration is good.
    from modelmesh_healthd._console import Palette, wants_colour
    from modelmesh_healthd.cli_show import check_table
    from modelmesh_healthd.config import ConfigError
    from modelmesh_healthd.daemon.check_command import check_round
    from modelmesh_healthd.daemon.demo import enabled, run_check_demo
    from modelmesh_healthd.daemon.logs import configure_logging
    from modelmesh_healthd.simulator.scenario import ScenarioError

    wanted = args.provider or enabled(config)
    unknown = [p for p in dict.fromkeys(wanted) if p not in config.providers]
    if unknown:
        for name in unknown:
            print(f"check: --provider {name}: {_unknown_provider(name, config)}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    for notice in config.notices():
        print(f"{path}: {notice}", file=sys.stderr)
    wanted = [p for p in wanted if config.providers[p].probed]
    if args.demo:
        # The simulator logs its start and stop: keep them off stdout, where the table goes.
        configure_logging("warning", "auto", stream=sys.stderr)
        try:
            _, base_url, results = asyncio.run(
                run_check_demo(Path(path or ""), demo_file("demo-scenario.yaml"), wanted)
            )
        except (ScenarioError, ConfigError) as exc:
            print(f"check: {exc}", file=sys.stderr)
            return EXIT_BAD_CONFIG
        print(f"check --demo: {path} against the simulator at {base_url}", file=sys.stderr)
    else:
        results = asyncio.run(check_round(config, wanted))
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print(check_table(results, Palette(wants_colour(sys.stdout, os.environ))))
    return EXIT_OK if all(r.healthy for r in results) else EXIT_UNHEALTHY


def _unknown_provider(name: str, config: Config) -> str:
    known = sorted(config.providers)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown provider; {hint}known: {', '.join(known)}"


def _demo(args: argparse.Namespace) -> int:
    import asyncio

    from modelmesh_healthd.cli_show import status_report
    from modelmesh_healthd.config import ConfigError
    from modelmesh_healthd.daemon.demo import DemoRun, timeline
    from modelmesh_healthd.daemon.logs import configure_logging
    from modelmesh_healthd.simulator.scenario import Scenario, ScenarioError
    from modelmesh_healthd.storage import redact_url

    ok, path = _config_path(args)
    config = _load(path) if ok and path else None  # validated first: a bad file exits 2
    if config is None or path is None:
        return EXIT_BAD_CONFIG
    store = args.store
    if not _store_url_ok(store, "--store"):
        return EXIT_BAD_CONFIG
    in_memory = store.split(":", 1)[0].lower() == "memory"
    if in_memory and args.keep_state:
        print(
            f"demo: --keep-state needs a store that outlives the demo; {store} keeps nothing "
            "after it ends",
            file=sys.stderr,
        )
        return EXIT_BAD_CONFIG
    try:
        scenario = Scenario.load(args.scenario)
    except ScenarioError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    if not args.keep_state and not in_memory:
        foreign = _foreign_state(store, config.daemon.instance)
        if foreign is not None:
            print(f"demo: {foreign}", file=sys.stderr)
            return EXIT_BAD_CONFIG
    print(
        f"The demo: {len(config.providers)} simulated providers for {args.duration:g} s "
        f"({'continuing from the saved state' if args.keep_state else 'starting fresh'}).\n"
        "What happens, and what the daemon should do about it:\n"
        + "\n".join(timeline(scenario, args.duration, _ending(store, in_memory)))
        + "\n",
        file=sys.stderr,
        flush=True,
    )
    configure_logging(args.log_level or "info", args.log_format or "auto")
    run = DemoRun(Path(path), Path(args.scenario), args.duration, store, fresh=not args.keep_state)
    try:
        code = asyncio.run(run.run())
    except (ScenarioError, ConfigError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    if code != EXIT_OK:
        return code
    sys.stdout.flush()
    if in_memory:
        print(
            f"\nThe state the daemon ended with ({store} keeps it only while the demo runs):\n",
            file=sys.stderr,
            flush=True,
        )
        if run.state is None:
            return EXIT_UNHEALTHY
        print(status_report(run.state, config.policy(), None))
        return EXIT_OK
    print(f"\nThe state the daemon saved ({redact_url(store)}):\n", file=sys.stderr, flush=True)
    return _show_status(store, config.policy(), as_json=False)


def _ending(store: str, in_memory: bool) -> str:
    from modelmesh_healthd.storage import redact_url

    if in_memory:
        return f"the demo stops and prints the state it ended with ({store} keeps nothing)"
    return f"the demo stops and prints the state it saved ({redact_url(store)})"


def _foreign_state(store: str, instance: str) -> str | None:
    """Why the demo must not replace what `store` holds (another instance's state), or None."""
    import asyncio

    from modelmesh_healthd.storage import StoreError, read_snapshot, redact_url

    try:
        snapshot = asyncio.run(read_snapshot(store))
    except StoreError:
        return None  # the daemon reports an unreachable store itself
    if snapshot is None or snapshot.writer_id.rsplit(":", 1)[-1] == instance:
        return None
    return (
        f"{redact_url(store)} holds the state of {snapshot.writer_id!r}, not a demo's: the demo "
        "will not replace it; give --store URL (or --keep-state to run on top of it)"
    )


def _status(args: argparse.Namespace) -> int:
    from modelmesh_healthd.state import DEFAULT_POLICY
    from modelmesh_healthd.storage import default_store_url

    if args.store and (args.file or args.config_option):
        print("status: give a configuration or --store, not both", file=sys.stderr)
        return EXIT_BAD_CONFIG
    policy, url = DEFAULT_POLICY, args.store
    if url is None:
        ok, path = _config_path(args, required=False)
        if not ok:
            return EXIT_BAD_CONFIG
        config = _load(path) if path else None
        if path and config is None:
            return EXIT_BAD_CONFIG
        if config is not None:
            policy, url = config.policy(), config.storage.url
        url = url or default_store_url(os.environ)
    return _show_status(url, policy, as_json=args.json, history=args.history)


def _show_status(url: str, policy: HealthPolicy, *, as_json: bool, history: bool = False) -> int:
    import asyncio

    from modelmesh_healthd.cli_show import status_report
    from modelmesh_healthd.storage import (
        StoreError,
        StoreURLError,
        read_owners,
        read_snapshot,
        read_votes,
        redact_url,
    )

    if not _store_url_ok(url, "status"):
        return EXIT_BAD_CONFIG
    try:
        snapshot = asyncio.run(read_snapshot(url))
        owners = asyncio.run(read_owners(url)) if snapshot is not None else {}
        votes = asyncio.run(read_votes(url)) if owners else {}  # sites vote only as replicas
    except StoreError as exc:
        print(f"status: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG if isinstance(exc, StoreURLError) else EXIT_UNHEALTHY
    if snapshot is None:
        print(f"status: no state stored at {redact_url(url)}", file=sys.stderr)
        return EXIT_UNHEALTHY
    from modelmesh_healthd.state.overrides import list_overrides

    report = None
    if history:
        from modelmesh_healthd.daemon.history_report import history_report

        try:
            report = asyncio.run(history_report(url, sorted(snapshot.state.providers), time.time()))
        except StoreError as exc:
            print(f"status: history: {exc}", file=sys.stderr)
            return EXIT_UNHEALTHY
    if as_json:
        from modelmesh_healthd.daemon.history_report import report_json
        from modelmesh_healthd.storage import status_table

        out = {
            "store": redact_url(url),
            "written_at": snapshot.written_at,
            "writer_id": snapshot.writer_id,
            "epoch": snapshot.epoch,
            **status_table(snapshot.state, policy, owners or None).to_dict(),
            "overrides": [o.to_dict() for o in list_overrides(snapshot.state, time.time())],
        }
        if votes:
            out["votes"] = votes
        if report is not None:
            out["history"] = report_json(report)
        print(json.dumps(out, indent=2))
        return EXIT_OK
    print(status_report(snapshot.state, policy, (redact_url(url), snapshot), owners, votes))
    held = [o.to_dict() for o in list_overrides(snapshot.state, time.time())]
    if held:
        from modelmesh_healthd.daemon.override_command import format_overrides

        print()
        print(format_overrides(held))
    if report is not None:
        from modelmesh_healthd._console import table
        from modelmesh_healthd.daemon.history_report import HISTORY_HEADER, history_rows

        print()
        print(table(HISTORY_HEADER, history_rows(report)))
    return EXIT_OK


def _health(args: argparse.Namespace) -> int:
    from modelmesh_healthd.daemon.health_command import check_daemon

    ok, path = _config_path(args, required=False)
    if not ok:
        return EXIT_UNHEALTHY  # never 2: Docker reserves it
    healthy, reason = check_daemon(path, os.environ, timeout=args.timeout, heartbeat=args.heartbeat)
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
    from modelmesh_healthd.config import Config

    schema = Config.model_json_schema(mode="validation")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "modelmesh-healthd configuration",
    }
    print(json.dumps(schema, indent=2))
    return EXIT_OK


def _overrides_cmd(args: argparse.Namespace, action: str) -> int:
    from modelmesh_healthd.daemon.override_command import OverrideClient, format_overrides

    ok, path = _config_path(args, required=False)
    if not ok:
        return EXIT_BAD_CONFIG
    try:
        client = OverrideClient.from_config(path, os.environ)
    except ValueError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    try:
        if action == "drain":
            print(format_overrides(client.drain(args.target, args.length, args.reason)))
        elif action == "undrain":
            cleared = client.undrain(args.target)
            print(f"{args.target}: {'override cleared' if cleared else 'had no override'}")
        else:
            rows = client.list()
            print(json.dumps(rows, indent=2) if args.json else format_overrides(rows))
    except RuntimeError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return EXIT_UNHEALTHY
    return EXIT_OK


_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "validate": _validate,
    "schema": _schema,
    "run": _run,
    "check": _check,
    "demo": _demo,
    "status": _status,
    "health": _health,
    "drain": lambda args: _overrides_cmd(args, "drain"),
    "undrain": lambda args: _overrides_cmd(args, "undrain"),
    "overrides": lambda args: _overrides_cmd(args, "list"),
}

_parser = build_parser  # the name tests and docs checks import
