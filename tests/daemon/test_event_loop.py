"""`daemon.event_loop`: which loop `run` uses, refused in one line when it cannot be had."""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

import pytest
import uvloop  # a dependency on this platform: a missing install fails, never skips

from modelmesh_healthd.cli import loop_factory
from modelmesh_healthd.config import ConfigError, load_config_text

CONFIG = """
daemon: {{event_loop: {loop}}}
providers:
  p: {{kind: openai, api_key: sk-x, base_url: "http://127.0.0.1:9/v1"}}
"""


@pytest.mark.parametrize(
    ("choice", "factory"),
    [("auto", uvloop.new_event_loop), ("uvloop", uvloop.new_event_loop), ("asyncio", None)],
)
def test_the_loop_run_uses_follows_the_setting(choice: str, factory: Any) -> None:
    assert loop_factory(choice) is factory


@pytest.mark.parametrize("choice", ["auto", "uvloop", "asyncio"])
def test_each_choice_loads_and_runs_a_coroutine(choice: str) -> None:
    config = load_config_text(CONFIG.format(loop=choice), environ={})

    async def which() -> str:
        return type(asyncio.get_running_loop()).__module__.split(".")[0]

    with asyncio.Runner(loop_factory=loop_factory(config.daemon.event_loop)) as runner:
        assert runner.run(which()) == ("asyncio" if choice == "asyncio" else "uvloop")


def test_uvloop_chosen_but_not_installed_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    # The one way to see a machine without uvloop here: hide it from the import system.
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else real(name, *a)
    )
    with pytest.raises(ConfigError) as caught:
        load_config_text(CONFIG.format(loop="uvloop"), source="c.yaml", environ={})
    assert caught.value.render() == (
        "c.yaml:2: daemon.event_loop: uvloop is not installed (pip install uvloop), or use auto"
    )
