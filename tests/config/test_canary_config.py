"""The canary's configuration: off unless asked, a budget per provider, a price per model."""

from __future__ import annotations

import pytest

from modelmesh_healthd.config import ConfigError, load_config_text

BASE = """
providers:
  openai:
    kind: openai
    api_key: sk-test
{provider_extra}
models:
  openai.gpt-4o-mini:
    provider: openai
{model_extra}
"""


def load(provider_extra: str = "", model_extra: str = "") -> object:
    text = BASE.format(provider_extra=provider_extra, model_extra=model_extra)
    return load_config_text(text, source="c.yaml", environ={})


def test_the_canary_is_off_unless_configured() -> None:
    cfg = load()
    assert cfg.providers["openai"].canary is None  # type: ignore[attr-defined]
    assert cfg.models["openai.gpt-4o-mini"].canary is False  # type: ignore[attr-defined]


def test_a_canary_block_reads_its_rate_and_daily_budget() -> None:
    cfg = load("    canary: {every: 15m, budget_usd_per_day: 0.10}")
    canary = cfg.providers["openai"].canary  # type: ignore[attr-defined]
    assert (canary.every, canary.budget_usd_per_day, canary.stream) == (900.0, 0.10, True)


def test_a_model_in_the_canary_without_a_price_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load("    canary: {}", "    canary: true")
    assert caught.value.render() == (
        'c.yaml:10: models["openai.gpt-4o-mini"].canary: '
        "needs a price (input/output USD per million tokens)"
    )


def test_a_price_reads_input_and_output_per_million_tokens() -> None:
    cfg = load(
        "",
        "    canary: true\n    price: {input_usd_per_mtok: 0.15, output_usd_per_mtok: 0.6}",
    )
    price = cfg.models["openai.gpt-4o-mini"].price  # type: ignore[attr-defined]
    assert (price.input_usd_per_mtok, price.output_usd_per_mtok) == (0.15, 0.6)


def test_a_negative_budget_is_refused() -> None:
    with pytest.raises(ConfigError):
        load("    canary: {budget_usd_per_day: -1}")
