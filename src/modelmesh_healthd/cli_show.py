"""The command line's pictures: the mesh (`validate --show`), a check round, a stored state."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from modelmesh_healthd._console import Palette, ago, milliseconds, probe_detail, table

if TYPE_CHECKING:
    from modelmesh_healthd.config import Config
    from modelmesh_healthd.daemon.check_command import CheckResult
    from modelmesh_healthd.state import HealthPolicy, Snapshot, SystemState

__all__ = ["check_table", "describe", "site_votes", "status_report"]


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


def check_table(results: Sequence[CheckResult], palette: Palette) -> str:
    """One row per provider; HEALTHY in green or red when the palette has colour."""
    rows = [
        [
            r.result.provider,
            r.result.kind,
            str(r.result.outcome),
            "-" if r.result.status is None else str(r.result.status),
            milliseconds(r.result.latency if r.result.latency is not None else r.result.elapsed),
            "yes" if r.healthy else "NO",
            probe_detail(r.result.detail, r.result.model_outcomes),
        ]
        for r in results
    ]

    def paint(row: int, column: int, cell: str) -> str:
        if column != 5:
            return cell
        return palette.good(cell) if results[row].healthy else palette.bad(cell)

    header = ["PROVIDER", "KIND", "OUTCOME", "HTTP", "LATENCY", "HEALTHY", "DETAIL"]
    return table(header, rows, paint)


def status_report(
    state: SystemState,
    policy: HealthPolicy,
    stored: tuple[str, Snapshot] | None,
    owners: Mapping[str, str] | None = None,
    votes: Mapping[str, Mapping[str, Mapping[str, object]]] | None = None,
) -> str:
    """The providers and pools tables of `status`, after a line on where the state came from.

    `owners` (provider -> replica) adds an OWNER column when replicas share the probing;
    `votes` (provider -> site -> vote, a quorum across sites) a VOTES column.
    """
    from modelmesh_healthd.storage import status_table

    view = status_table(state, policy, owners or None)
    owned = bool(owners)
    lines = []
    if stored is not None:
        url, snapshot = stored
        age = time.time() - snapshot.written_at
        lines += [
            f"store {url}: written {age:.0f}s ago by {snapshot.writer_id} (epoch {snapshot.epoch})",
            "",
        ]
    lines.append(
        table(
            ["PROVIDER", "HEALTH", "SCORE", "LAST PROBE", "OUTCOME", "ACTIVE"]
            + (["OWNER"] if owned else [])
            + (["VOTES"] if votes else [])
            + ["REASON"],
            [
                [
                    p.provider,
                    p.health,
                    f"{p.score:.2f}",
                    ago(p.last_probe),
                    p.last_outcome or "-",
                    str(p.active_models),
                    *([p.owner or "(none)"] if owned else []),
                    *([site_votes(votes.get(p.provider, {}))] if votes else []),
                    p.reason or "",
                ]
                for p in view.providers
            ],
        )
    )
    lines.append("")
    lines.append(
        table(
            ["POOL", "ACTIVE", "STANDBY"],
            [
                [
                    pool.pool,
                    ", ".join(pool.active) or "(none)",
                    ", ".join(f"{m} ({r})" for m, r in pool.standby),
                ]
                for pool in view.pools
            ],
        )
    )
    return "\n".join(lines)


def site_votes(votes: Mapping[str, Mapping[str, object]]) -> str:
    """One provider's votes, compact: `eu=down(2s) us=up(1s)`; a vote that no longer counts is
    marked `stale`."""
    shown = []
    for site, vote in sorted(votes.items()):
        age = vote.get("age_s")
        seconds = f"{age:.0f}s" if isinstance(age, (int, float)) else "?"
        stale = "" if vote.get("fresh") else ",stale"
        shown.append(f"{site}={'down' if vote.get('down') else 'up'}({seconds}{stale})")
    return " ".join(shown) or "-"
