"""The daemon end to end, in-process, against the simulator: what its log events say."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from daemon_support import KEYS, fleet, running_daemon

from modelmesh_healthd.simulator import Simulator
from modelmesh_healthd.storage import read_state


async def test_an_outage_deactivates_every_model_in_every_pool_and_recovery_restores_them(
    tmp_path: Path,
) -> None:
    async with running_daemon(tmp_path) as run:
        await run.wait_for("daemon.started")
        await run.probes_of("a", 1)
        run.sim.set_behaviour("a", "server_error")
        down = await run.wait_for("provider.down", provider="a")
        assert (down["reason"], down["from"], down["to"]) == ("provider_unavailable", "up", "down")
        deactivated = {(e["model"], e["pool"]) for e in run.events("model.deactivated")}
        assert deactivated == {
            ("a.gpt-4o", "chat"),
            ("a.gpt-4o", "premium"),
            ("a.gpt-4o-mini", "fast"),
        }
        failures = run.events_before(down, "probe.completed", provider="a", outcome="server_error")
        assert len(failures) == 3  # the default policy: down on the third failure

        run.sim.set_behaviour("a", "healthy")
        up = await run.wait_for("provider.up", provider="a")
        assert up["down_for_s"] > 0
        reactivated = {(e["model"], e["pool"]) for e in run.events("model.reactivated")}
        assert reactivated == deactivated
        assert not run.events("model.deactivated", provider="b")


async def test_a_bad_key_takes_the_provider_down_at_once(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as run:
        await run.probes_of("b", 1)
        run.sim.set_behaviour("b", "key_revoked")
        down = await run.wait_for("provider.down", provider="b")
        assert down["reason"] == "auth_failure"
        # At once: the first failed probe of b takes it down.
        failed = run.events_before(down, "probe.completed", provider="b", outcome="auth_invalid")
        assert len(failed) == 1
        pools = {e["pool"] for e in run.events("model.deactivated", model="b.claude")}
        assert pools == {"chat", "premium"}


async def test_a_rate_limit_deactivates_nothing_and_is_honoured(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as run:
        await run.probes_of("d", 1)
        run.sim.set_behaviour("d", "rate_limited", retry_after=60)
        limited = await run.wait_for("probe.completed", provider="d", outcome="rate_limited")
        assert limited["retry_after"] == 60
        before = run.sim.requests("d")
        await run.probes_of("a", 6)  # others keep their 0.3 s cadence meanwhile
        assert not run.events("provider.down")
        assert not run.events("model.deactivated")
        assert run.sim.requests("d") == before  # Retry-After honoured: d left alone


async def test_a_missing_model_goes_to_standby_alone(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as run:
        await run.probes_of("a", 1)
        run.sim.set_behaviour("a", missing_models=["gpt-4o-mini"])
        gone = await run.wait_for("model.deactivated", model="a.gpt-4o-mini")
        assert (gone["pool"], gone["reason"]) == ("fast", "model_not_found")
        await run.probes_of("a", 3)
        assert not run.events("provider.down")
        assert not run.events("model.deactivated", model="a.gpt-4o")


async def test_our_network_failing_does_not_deactivate_the_fleet(tmp_path: Path) -> None:
    sim = Simulator(fleet())
    await sim.start()
    try:
        async with running_daemon(tmp_path, sim=sim) as run:
            for name in "abcd":
                await run.probes_of(name, 1)
            for name in "abcd":
                sim.set_behaviour(name, "reset")  # every connection dies: looks like our network
            await run.wait_for("daemon.network_suspect")
            for name in "abcd":
                await run.wait_until(
                    lambda n=name: len(run.events("probe.held", provider=n)) >= 3,
                    what=f"three held probes of {name}",
                )
            assert not run.events("provider.down")
            assert not run.events("model.deactivated")
            for name in "abcd":
                sim.set_behaviour(name, "healthy")
            await run.wait_for("daemon.network_restored")
            sim.set_behaviour("a", "reset")  # now only a fails, the others prove our network
            await run.wait_for("provider.down", provider="a")
            assert {e["provider"] for e in run.events("provider.down")} == {"a"}
    finally:
        await sim.stop()


async def test_without_the_guard_a_dead_network_takes_every_provider_down(
    tmp_path: Path,
) -> None:
    async with running_daemon(tmp_path, guard=False) as run:
        for name in "abcd":
            await run.probes_of(name, 1)
            run.sim.set_behaviour(name, "reset")
        for name in "abcd":
            await run.wait_for("provider.down", provider=name)


# "cancelled": embedded use, where whoever runs the daemon in a task cancels it rather than
# asking it to stop; it must still write its last state and release the store's lock.
@pytest.mark.parametrize("ended", ["stopped", "cancelled"])
async def test_the_state_survives_a_restart(tmp_path: Path, ended: str) -> None:
    store = f"sqlite:///{tmp_path}/state.db"
    sim = Simulator(fleet())
    await sim.start()
    try:
        async with running_daemon(tmp_path, store_url=store, sim=sim) as run:
            await run.probes_of("b", 1)
            sim.set_behaviour("b", "key_revoked")
            await run.wait_for("provider.down", provider="b")
            if ended == "stopped":
                assert await run.stop() == 0
            else:
                run.task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await asyncio.wait_for(run.task, 15.0)
            stopped = run.events("daemon.stopped")
            reason = "test" if ended == "stopped" else "cancelled"
            assert [(e["reason"], e["saved"]) for e in stopped] == [(reason, True)]
        saved = await read_state(store)
        assert saved is not None
        assert saved.models["b.claude"].deactivation_reason == "auth_failure"

        async with running_daemon(tmp_path, store_url=store, sim=sim) as again:
            loaded = await again.wait_for("snapshot.loaded")
            assert loaded["providers"] == 4
            assert again.daemon.state.models["b.claude"].status == "standby"
            assert "b.claude" in again.daemon.state.pools["premium"].standby_models
            sim.set_behaviour("b", "healthy")
            await again.wait_for("provider.up", provider="b")
    finally:
        await sim.stop()


async def test_a_second_daemon_on_the_same_store_waits_as_a_standby_and_takes_over(
    tmp_path: Path,
) -> None:
    store = f"sqlite:///{tmp_path}/state.db"
    async with running_daemon(tmp_path, store_url=store) as first:
        await first.wait_for("daemon.started")
        async with running_daemon(tmp_path / "second", store_url=store, sim=first.sim) as second:
            locked = await second.wait_for("store.locked")
            assert locked["owner_writer_id"] == first.daemon.writer_id
            await second.wait_for("store.standby")
            await asyncio.sleep(2.5)  # a few attempts at the lock meanwhile
            assert not second.task.done()
            assert len(second.events("store.locked")) == 1  # once per holder, not per attempt
            assert await first.stop() == 0
            await second.wait_for("daemon.started")
            assert second.events("snapshot.loaded")  # it carries on from the stored state


async def test_no_log_event_carries_an_api_key(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as run:
        for behaviour in ("unauthorized", "garbage", "server_error"):
            for name in "abcd":
                run.sim.set_behaviour(name, behaviour)
            await run.probes_of("a", 2)
        text = repr(run.logs)
        for key in KEYS.values():
            assert key not in text


async def test_a_key_changed_while_its_probe_runs_is_probed_again_at_once(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as run:
        await run.probes_of("d", 1)
        run.sim.set_behaviour("d", "hang")  # the old key's probe will wait for its 1 s timeout
        before = run.sim.requests("d")
        await run.wait_until(lambda: run.sim.requests("d") > before, what="a probe of d")

        path = tmp_path / "healthd.yaml"
        path.write_text(path.read_text().replace(KEYS["d"], "gsk-rotated-d"))
        run.sim.set_behaviour("d", "healthy", api_key="gsk-rotated-d")
        assert await run.daemon.reload()
        assert run.events("daemon.reloaded")[-1]["changed"] == ["d"]
        seen = len(run.events("probe.completed", provider="d"))

        # The hanging probe's result (old key) is dropped; the new key is probed when it ends,
        # and d stays scheduled after that.
        await run.probes_of("d", 3)
        after = run.events("probe.completed", provider="d")[seen:]
        assert [e["outcome"] for e in after[:3]] == ["ok", "ok", "ok"]


async def test_probe_now_makes_a_probed_provider_due_at_once_and_refuses_others(
    tmp_path: Path,
) -> None:
    async with running_daemon(tmp_path) as run:
        await run.probes_of("a", 1)
        scheduler = run.daemon.scheduler
        assert scheduler is not None
        assert not run.daemon.probe_now("no-such-provider")
        assert run.daemon.probe_now("a")
        due = scheduler.due_of("a")  # None: running now, and runs again when it ends
        assert due is None or due <= scheduler.now()
