"""HistoryRecorder on its own: what it records from the state it reads, and when it writes."""

from __future__ import annotations

import uuid
from typing import Any

from modelmesh_healthd.daemon.history import HistoryRecorder, model_subject, provider_subject
from modelmesh_healthd.state import DEFAULT_POLICY, Mesh, initial_state
from modelmesh_healthd.state.history import DOWN, MAINTENANCE, UNKNOWN, UP
from modelmesh_healthd.state.model import STANDBY
from modelmesh_healthd.storage.history_store import read_histories


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def started(
    maintenance: set[str] | None = None,
) -> tuple[HistoryRecorder, dict[str, Any], Clock, str]:
    url = f"memory://history-{uuid.uuid4().hex}"
    mesh = Mesh.build(["p", "q"], {"p.m": "p", "q.m": "q"}, {"pool": ["p.m", "q.m"]})
    box = {"mesh": mesh, "state": initial_state(mesh)}
    for ps in box["state"].providers.values():
        ps.last_probe = 1.0
    clock = Clock()
    held = maintenance if maintenance is not None else set()
    recorder = HistoryRecorder(url, maintenance=held.__contains__, flush_every=3600)
    await recorder.start(lambda: box["state"], lambda: box["mesh"], lambda: DEFAULT_POLICY, clock)
    return recorder, box, clock, url


async def test_a_provider_held_for_maintenance_is_recorded_so_with_its_models() -> None:
    recorder, _, _, _ = await started(maintenance={"p"})
    assert recorder.histories[provider_subject("p")].current == MAINTENANCE
    assert recorder.histories[model_subject("p.m")].current == MAINTENANCE
    assert recorder.histories[provider_subject("q")].current == UP
    await recorder.stop()


async def test_a_provider_removed_by_a_reload_turns_unknown() -> None:
    recorder, box, clock, _ = await started()
    mesh = Mesh.build(["q"], {"q.m": "q"}, {"pool": ["q.m"]})
    box["mesh"] = mesh
    del box["state"].providers["p"]
    clock.now += 60
    recorder.refresh(["p"])
    assert recorder.histories[provider_subject("p")].entries[-1] == (clock.now, UNKNOWN)
    await recorder.stop()


async def test_a_daemon_that_lost_the_store_writes_nothing_at_stop() -> None:
    recorder, _, clock, url = await started()
    assert await recorder.flush()
    clock.now += 60
    await recorder.stop(save=False)
    stored = (await read_histories(url)).histories[provider_subject("p")]
    assert stored.current == UP


async def test_a_stop_records_unknown_and_saves_it() -> None:
    recorder, _, clock, url = await started()
    clock.now += 60
    await recorder.stop()
    stored = (await read_histories(url)).histories
    assert {h.current for h in stored.values()} == {UNKNOWN}
    assert stored[provider_subject("q")].entries == ((1_000_000.0, UP), (clock.now, UNKNOWN))


async def test_subjects_recorded_alike_keep_apart_when_one_changes_alone() -> None:
    # Subjects that change alike at one instant may share one history value: a later change
    # of one of them must not show in the others.
    recorder, box, clock, _ = await started()
    start = clock.now
    alike = [provider_subject("p"), model_subject("p.m"), provider_subject("q")]
    assert [recorder.histories[s].entries for s in alike] == [((start, UP),)] * 3
    model = box["state"].models["p.m"]
    model.status, model.deactivation_reason = STANDBY, "model_not_found"
    clock.now += 60
    recorder.refresh(["p"])
    assert recorder.histories[model_subject("p.m")].entries == ((start, UP), (clock.now, DOWN))
    assert recorder.histories[provider_subject("p")].entries == ((start, UP),)
    assert recorder.histories[provider_subject("q")].entries == ((start, UP),)
    assert recorder.histories[model_subject("q.m")].entries == ((start, UP),)
    await recorder.stop()
