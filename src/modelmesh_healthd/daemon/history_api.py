"""The admin API's history: the body of `GET /v1/providers/{name}/history`.

The provider's and each of its models' current history state, availability per window, and the
last 24 hours' changes, as this daemon's recorder holds them (`history.HistoryRecorder`).
"""

from __future__ import annotations

from typing import Any, Protocol

from modelmesh_healthd.daemon.history import (
    EMPTY_HISTORY,
    HistoryRecorder,
    model_subject,
    provider_subject,
)
from modelmesh_healthd.state import Mesh
from modelmesh_healthd.state.history import WINDOWS

__all__ = ["HistorySource", "history_body"]


class HistorySource(Protocol):
    """What `history_body` reads: a daemon view has all of it."""

    @property
    def history(self) -> HistoryRecorder: ...

    @property
    def mesh(self) -> Mesh: ...

    def wall_clock(self) -> float: ...


def _subject_body(recorder: HistoryRecorder, subject: str, now: float) -> dict[str, Any]:
    history = recorder.histories.get(subject, EMPTY_HISTORY)
    windows = recorder.windows(subject, now) or {}
    day = now - WINDOWS["24h"]
    return {
        "current": history.current,
        "windows": {label: avail.to_dict() for label, avail in windows.items()},
        "changes_24h": [{"at": at, "state": s} for at, s in history.entries if at >= day],
    }


def history_body(daemon: HistorySource, provider: str) -> dict[str, Any]:
    """The JSON answer of `/v1/providers/{name}/history`: the provider's and its models'."""
    now = daemon.wall_clock()
    recorder = daemon.history
    models = daemon.mesh.provider_models.get(provider, ())
    return {
        "provider": provider,
        "generated_at": now,
        "rules": "ratio = (up + degraded) / (up + degraded + down); maintenance and unknown "
        "excluded; a rate limit is up; time before the first probe is unknown",
        **_subject_body(recorder, provider_subject(provider), now),
        "models": {m: _subject_body(recorder, model_subject(m), now) for m in models},
    }
