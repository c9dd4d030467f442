"""Availability history as another process shows it (`status --history`): read from the store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from modelmesh_healthd.daemon.history import provider_subject
from modelmesh_healthd.state.history import (
    DEGRADED,
    MAINTENANCE,
    WINDOWS,
    Availability,
    History,
    availability,
)
from modelmesh_healthd.storage.history_store import read_histories

__all__ = ["HISTORY_HEADER", "format_window", "history_report", "history_rows", "report_json"]

HISTORY_HEADER = ["PROVIDER", "NOW", *(f"UP {label}" for label in WINDOWS)]
"""The columns of `history_rows`."""


async def history_report(
    url: str, providers: Iterable[str], now: float
) -> dict[str, dict[str, Any]]:
    """Each provider's current history state and its availability per window.

    Raises:
        StoreError: The store cannot be read.
    """
    histories = (await read_histories(url)).histories
    out: dict[str, dict[str, Any]] = {}
    for name in providers:
        history = histories.get(provider_subject(name), History())
        out[name] = {
            "current": history.current,
            "windows": {label: availability(history, now, secs) for label, secs in WINDOWS.items()},
        }
    return out


def format_window(avail: Availability) -> str:
    """`99.5%`, with degraded and maintenance shares when there are any; `-` without a ratio."""
    if avail.ratio is None:
        return "-"
    text = f"{avail.ratio * 100:.1f}%"
    shares = avail.fractions
    extra = [
        f"{shares[state] * 100:.0f}% {label}"
        for state, label in ((DEGRADED, "degraded"), (MAINTENANCE, "maint"))
        if shares[state] >= 0.005
    ]
    return f"{text} ({', '.join(extra)})" if extra else text


def history_rows(report: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """One row per provider under `HISTORY_HEADER`."""
    return [
        [name, entry["current"], *(format_window(a) for a in entry["windows"].values())]
        for name, entry in report.items()
    ]


def report_json(report: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """JSON-ready form of `history_report`'s answer."""
    return {
        name: {
            "current": entry["current"],
            "windows": {label: a.to_dict() for label, a in entry["windows"].items()},
        }
        for name, entry in report.items()
    }
