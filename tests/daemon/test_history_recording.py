"""The daemon records availability history as health changes, and keeps it in the store."""

from __future__ import annotations

from pathlib import Path

from daemon_support import running_daemon

from modelmesh_healthd.daemon.history import HistoryRecorder, model_subject, provider_subject
from modelmesh_healthd.state.history import DOWN, MAINTENANCE, UNKNOWN, UP
from modelmesh_healthd.storage.history_store import read_histories


def states(history: HistoryRecorder, subject: str) -> list[str]:
    return [state for _, state in history.histories[subject].entries]


async def test_an_outage_is_recorded_for_the_provider_and_its_models(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as run:
        await run.wait_for("daemon.started")
        await run.probes_of("a", 1)
        run.sim.set_behaviour("a", "server_error")
        await run.wait_for("provider.down", provider="a")
        run.sim.set_behaviour("a", "healthy")
        await run.wait_for("provider.up", provider="a")
        history = run.daemon.history
        assert states(history, provider_subject("a"))[-3:] == [UP, DOWN, UP]
        assert states(history, model_subject("a.gpt-4o"))[-3:] == [UP, DOWN, UP]
        assert DOWN not in states(history, provider_subject("b"))


async def test_the_history_survives_a_restart_with_the_stop_as_unknown(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    async with running_daemon(tmp_path, store_url=url) as run:
        await run.wait_for("daemon.started")
        await run.probes_of("a", 1)
        await run.wait_until(lambda: run.daemon.history.histories.get(provider_subject("a")))
    stored = (await read_histories(url)).histories[provider_subject("a")]
    assert [s for _, s in stored.entries][-2:] == [UP, UNKNOWN]
    async with running_daemon(tmp_path, store_url=url) as run:
        loaded = await run.wait_for("history.loaded")
        assert loaded["subjects"] == 9  # 4 providers and 5 models
        await run.probes_of("a", 1)
        a = provider_subject("a")
        await run.wait_until(lambda: run.daemon.history.histories[a].current == UP)
        assert states(run.daemon.history, provider_subject("a"))[-3:] == [UP, UNKNOWN, UP]


async def test_a_second_process_reads_the_history_from_redis(
    tmp_path: Path, redis_url: str
) -> None:
    async with running_daemon(tmp_path, store_url=redis_url) as run:
        await run.wait_for("daemon.started")
        run.sim.set_behaviour("b", "key_revoked")
        await run.wait_for("provider.down", provider="b")
        assert await run.daemon.history.flush()
        stored = (await read_histories(redis_url)).histories[provider_subject("b")]
        assert stored.current == DOWN


async def test_a_drained_provider_and_its_models_are_recorded_as_maintenance(
    tmp_path: Path,
) -> None:
    async with running_daemon(tmp_path) as run:
        await run.wait_for("daemon.started")
        await run.probes_of("a", 1)
        run.daemon.set_override("a", 600, "kernel upgrade")
        await run.wait_until(
            lambda: run.daemon.history.histories[provider_subject("a")].current == MAINTENANCE
        )
        assert run.daemon.history.histories[model_subject("a.gpt-4o")].current == MAINTENANCE
        run.daemon.clear_override("a")
        await run.wait_until(
            lambda: run.daemon.history.histories[provider_subject("a")].current == UP
        )
        assert states(run.daemon.history, provider_subject("a"))[-3:] == [UP, MAINTENANCE, UP]
