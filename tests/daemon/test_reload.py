"""What a reload changes, decided before the daemon applies anything (daemon/reload.py)."""

from __future__ import annotations

from typing import Any

import pytest

from modelmesh_healthd.config import Config
from modelmesh_healthd.daemon.probe_setup import timing_for
from modelmesh_healthd.daemon.reload import carried_over, diff_fleet, restart_required


def config(**changes: Any) -> Config:
    """Providers a, b (enabled) and c (disabled), each with one model; `changes` override."""
    data: dict[str, Any] = {
        "schedule": {"interval": "30s"},
        "storage": {"url": "memory://"},
        "providers": {
            "a": {"kind": "openai", "base_url": "http://127.0.0.1:9/a/v1", "api_key": "sk-a"},
            "b": {"kind": "openai", "base_url": "http://127.0.0.1:9/b/v1", "api_key": "sk-b"},
            "c": {
                "kind": "openai",
                "base_url": "http://127.0.0.1:9/c/v1",
                "api_key": "sk-c",
                "enabled": False,
            },
        },
        "models": {"a.m": {"provider": "a"}, "b.m": {"provider": "b"}, "c.m": {"provider": "c"}},
    }
    for path, value in changes.items():
        node = data
        *parents, leaf = path.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return Config.model_validate(data).with_source("healthd.yaml")


def running(cfg: Config) -> dict[str, Any]:
    return {name: timing_for(cfg, name) for name in ("a", "b")}


@pytest.mark.parametrize(
    ("changes", "keys"),
    [
        ({}, []),
        ({"storage__url": "sqlite:////tmp/other.db"}, ["storage"]),
        ({"daemon__instance": "other"}, ["daemon.instance"]),
        ({"admin__listen": "127.0.0.1:9999"}, ["admin"]),
        ({"daemon__event_loop": "asyncio"}, ["daemon.event_loop"]),
        ({"schedule__interval": "10s"}, []),
    ],
    ids=["nothing", "store", "instance", "admin", "event loop", "schedule (applied live)"],
)
def test_settings_that_need_a_restart_are_named(changes: dict[str, Any], keys: list[str]) -> None:
    assert restart_required(config(), config(**changes)) == keys


def test_the_running_store_and_admin_settings_and_the_source_are_carried_over() -> None:
    new = config(
        storage__url="sqlite:////tmp/other.db", admin__listen="127.0.0.1:9999"
    ).with_source("new.yaml")
    kept = carried_over(config(), new)
    assert kept.storage == config().storage
    assert kept.admin == config().admin
    assert kept.source == "new.yaml"


def test_an_unchanged_configuration_keeps_every_provider() -> None:
    before = config()
    diff = diff_fleet(running(before), (before, before.mesh()), (before, before.mesh()))
    assert (list(diff.added), diff.removed, list(diff.retargeted)) == ([], [], [])
    assert list(diff.kept) == ["a", "b"]


def test_a_new_key_retargets_its_provider_only() -> None:
    before, after = config(), config(providers__b__api_key="sk-new")
    diff = diff_fleet(running(before), (after, after.mesh()), (before, before.mesh()))
    assert list(diff.retargeted) == ["b"]
    assert list(diff.kept) == ["a"]


def test_a_new_interval_changes_the_schedule_without_retargeting() -> None:
    before, after = config(), config(schedule__interval="10s")
    diff = diff_fleet(running(before), (after, after.mesh()), (before, before.mesh()))
    assert list(diff.retargeted) == []
    assert diff.kept["a"].interval == 10.0


def test_enabling_and_disabling_providers_adds_and_removes_them() -> None:
    before = config()
    after = config(providers__c__enabled=True, providers__a__enabled=False)
    diff = diff_fleet(running(before), (after, after.mesh()), (before, before.mesh()))
    assert (list(diff.added), diff.removed, list(diff.kept)) == (["c"], ["a"], ["b"])


def test_at_start_up_every_enabled_provider_is_added() -> None:
    cfg = config()
    diff = diff_fleet({}, (cfg, cfg.mesh()))
    assert list(diff.added) == ["a", "b"]


def test_a_provider_of_an_unsupported_kind_is_never_added() -> None:
    cfg = config(providers__c={"kind": "unsupported"})
    diff = diff_fleet({}, (cfg, cfg.mesh()))
    assert list(diff.added) == ["a", "b"]
