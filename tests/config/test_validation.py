"""A large document is validated in parts, with the same outcome as in one call and bounded
memory however many of its values are wrong."""

from __future__ import annotations

import pytest

from modelmesh_healthd.config import ConfigError, load_config_text, validation

GOOD = """
schedule: {interval: 10s}
providers:
  openai: {kind: openai, api_key: sk-test, schedule: {timeout: 5s}}
  local: {kind: ollama}
models:
  openai.gpt-4o: {provider: openai}
  local.llama: {provider: local, capabilities: [generation.text-generation.chat-completion]}
pools:
  chat: {models: [openai.gpt-4o], capability: chat-completion}
"""

BAD = """
schedule: {interval: soon}
providers:
  openai: {kind: openai, api_key: sk-test, timeout: 5s}
  local: {kind: olama}
  3: {kind: ollama}
models:
  openai.gpt-4o: {provider: openai}
  local.llama: {provider: locl}
pools:
  chat: {models: [openai.gpt-4o, openai.gpt4], colour: red}
"""


def _outcome(text: str) -> object:
    try:
        return load_config_text(text, source="c.yaml", environ={}).model_dump()
    except ConfigError as exc:
        return exc.render()


@pytest.mark.parametrize("text", [GOOD, BAD], ids=["valid", "invalid"])
def test_validating_in_parts_gives_what_one_call_gives(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _outcome(text.replace("  3: {kind: ollama}\n", ""))
    monkeypatch.setattr(validation, "MAX_PART_VALUES", 12)  # every document here is "large"
    assert _outcome(text.replace("  3: {kind: ollama}\n", "")) == whole


def test_a_key_that_is_not_a_string_is_reported_in_parts_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(validation, "MAX_PART_VALUES", 12)
    with pytest.raises(ConfigError, match=r"c.yaml:6: providers.3: Input should be a valid string"):
        load_config_text(BAD, source="c.yaml", environ={})


def test_a_part_past_the_limit_is_refused_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "MAX_PART_VALUES", 12)
    text = GOOD + "  big: {models: [" + ", ".join(["openai.gpt-4o"] * 20) + "]}\n"
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, source="c.yaml", environ={})
    assert caught.value.render() == (
        "c.yaml:11: pools.big: holds more than 12 values (the limit for one entry)"
    )


def test_past_a_thousand_problems_the_rest_are_left_out() -> None:
    entries = "".join(f"  p{i}: {{kind: nope}}\n" for i in range(1500))
    with pytest.raises(ConfigError) as caught:
        load_config_text("providers:\n" + entries, source="c.yaml", environ={})
    lines = caught.value.render().splitlines()
    assert len(lines) == 1001
    assert lines[0].startswith("c.yaml:2: providers.p0.kind: must be one of")
    assert lines[-1] == (
        "c.yaml: (top level): more problems not shown: only the first 1,000 are reported"
    )
