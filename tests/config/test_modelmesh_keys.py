"""Every documented ModelMesh key is accepted, used or reported as ignored; typos are errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from modelmesh_healthd.config import Config, ConfigError, load_config_text
from modelmesh_healthd.config.modelmesh_health import alpha_for_failures
from modelmesh_healthd.config.modelmesh_keys import MM_KEYS, OPEN, children_of
from modelmesh_healthd.config.modelmesh_read import is_modelmesh
from modelmesh_healthd.kinds import connector_url
from modelmesh_healthd.state import DEFAULT_POLICY, HealthPolicy

ROOT = Path(__file__).resolve().parents[2]

# Values for the keys whose value the daemon reads; every other key gets a placeholder.
_VALUES: dict[str, Any] = {
    "providers.*.connector": "openai.llm.v1",
    "providers.*.config": {"api_key": "sk-test", "organization": "org-1"},
    "providers.*.enabled": True,
    "providers.*.api_key": "sk-test",
    "providers.*.base_url": "http://127.0.0.1:9",
    "models.*.provider": "openai.llm.v1",
    "models.*.capabilities": ["generation.text-generation.chat-completion"],
    "pools.*.capability": "generation",
    "pools.*.models": ["gpt-4o"],
    "pools.*.providers": ["openai.llm.v1"],
    "storage.url": "memory://",
    "discovery.health.interval": "60s",
    "discovery.health.timeout": "10s",
    "discovery.health.failure_threshold": 3,
    "secrets": {"store": "modelmesh.env.v1", "region": "us-east-1"},
}
_IDS = {"providers": "openai.llm.v1", "models": "gpt-4o", "pools": "chat"}


def every_documented_key() -> dict[str, Any]:
    """One document that holds every key of the table."""
    document: dict[str, Any] = {}
    for key in MM_KEYS:
        parts = key.path.split(".")
        if parts[-1] == "*":
            continue
        here = document
        for i, part in enumerate(parts[:-1]):
            name = _IDS[parts[0]] if part == "*" else part
            here = here.setdefault(name, {})
            assert isinstance(here, dict), ".".join(parts[: i + 1])
        if key.path in _VALUES:
            here[parts[-1]] = _VALUES[key.path]
        elif key.block == OPEN or children_of(key.path):
            here.setdefault(parts[-1], {"anything": 1} if key.block == OPEN else {})
        else:
            here[parts[-1]] = "x"
    return document


def load(document: dict[str, Any] | str, environ: dict[str, str] | None = None) -> Config:
    text = document if isinstance(document, str) else yaml.safe_dump(document, sort_keys=False)
    return load_config_text(text, environ=environ or {})


def errors(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, source="mm.yaml", environ=environ or {})
    return caught.value.render().splitlines()


def test_a_file_holding_every_documented_key_loads() -> None:
    config = load(every_documented_key())
    assert config.pool_members("chat") == ["gpt-4o"]
    assert config.modelmesh is not None


def test_every_ignored_key_of_a_file_is_reported_with_its_reason() -> None:
    reading = load(every_documented_key()).modelmesh
    assert reading is not None
    reported = dict(reading.ignored)
    # the outermost ignored key of each branch is reported once
    assert reported['providers["openai.llm.v1"].budget'] == (
        "spend and quota accounting of ModelMesh's router"
    )
    assert 'providers["openai.llm.v1"].budget.daily_limit' not in reported
    assert "pools.chat.strategy" in reported
    assert "models.gpt-4o.features" in reported
    assert "observability" in reported
    assert "discovery.sync" in reported
    assert "discovery.health.enabled" in reported
    assert "storage.sync_policy" in reported
    assert "proxy" in reported


def test_every_table_entry_says_either_how_it_is_used_or_why_it_is_ignored() -> None:
    for key in MM_KEYS:
        assert (key.use is None) != (key.why is None), key.path


MINIMAL = """
providers:
  openai.llm.v1:
    api_key: sk-test
models:
  gpt-4o:
    provider: openai.llm.v1
    capabilities: [generation.text-generation.chat-completion]
pools:
  chat:
    capability: generation
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "pools:",
            "observabilty: {}\npools:",
            "mm.yaml:9: observabilty: unknown key (did you mean 'observability'?)",
            id="top level",
        ),
        pytest.param(
            "    api_key: sk-test",
            "    api_key: sk-test\n    budgett: {daily_limit: 5}",
            "mm.yaml:5: providers[\"openai.llm.v1\"].budgett: unknown key (did you mean 'budget'?)",
            id="provider",
        ),
        pytest.param(
            "    api_key: sk-test",
            "    api_key: sk-test\n    budget: {daly_limit: 5}",
            'mm.yaml:5: providers["openai.llm.v1"].budget.daly_limit: '
            "unknown key (did you mean 'daily_limit'?)",
            id="inside an ignored block",
        ),
        pytest.param(
            "    api_key: sk-test",
            "    api_key: sk-test\n    kidn: openai",
            "mm.yaml:5: providers[\"openai.llm.v1\"].kidn: unknown key (did you mean 'kind'?)",
            id="one of the daemon's own keys",
        ),
        pytest.param(
            "    provider: openai.llm.v1",
            "    provider: openai.llm.v1\n    featurs: {}",
            "mm.yaml:8: models.gpt-4o.featurs: unknown key (did you mean 'features'?)",
            id="model",
        ),
        pytest.param(
            "    capability: generation",
            "    capability: generation\n    stratgy: round-robin",
            "mm.yaml:12: pools.chat.stratgy: unknown key (did you mean 'strategy'?)",
            id="pool",
        ),
        pytest.param(
            "    capability: generation",
            "    capability: generation\n    recovery: {cooldwn: 60s}",
            "mm.yaml:12: pools.chat.recovery.cooldwn: unknown key (did you mean 'cooldown'?)",
            id="pool block",
        ),
        pytest.param(
            "pools:",
            "discovery: {health: {intervl: 60s}}\npools:",
            "mm.yaml:9: discovery.health.intervl: unknown key (did you mean 'interval'?)",
            id="discovery.health",
        ),
        pytest.param(
            "    api_key: sk-test",
            "    api_key: sk-test\n    budget: 5",
            'mm.yaml:5: providers["openai.llm.v1"].budget: must be a mapping, got int',
            id="a block given a number",
        ),
    ],
)
def test_a_typo_is_an_error_naming_the_closest_key(old: str, new: str, expected: str) -> None:
    assert errors(MINIMAL.replace(old, new, 1)) == [expected]


def test_blocks_of_connector_specific_settings_take_any_key() -> None:
    text = MINIMAL.replace(
        "    api_key: sk-test",
        "    config: {api_key: sk-test, organization: o, max_retries: 2}",
    ) + (
        "storage: {connector: aws.s3.v1, bucket: b, key: k, region: r}\n"
        "proxy: {auth: {method: bearer, tokens: [t]}, cors: {origins: ['*']}}\n"
        "secrets: {store: modelmesh.env.v1, cache_ttl_ms: 5}\n"
    )
    reading = load(text).modelmesh
    assert reading is not None
    assert "storage.bucket" in dict(reading.ignored)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"providers": {"openai": {"kind": "openai"}}}, False),
        ({"providers": {"openai.llm.v1": {"api_key": "k"}}}, True),
        ({"providers": {"x": {"kind": "openai", "connector": "openai.llm.v1"}}}, True),
        ({"providers": {"x": {"kind": "openai", "config": {}}}}, True),
        ({"secrets": {}, "providers": {"openai": {"kind": "openai"}}}, True),
        ({"discovery": {}}, True),
        ({"schedule": {}}, False),
    ],
)
def test_a_file_is_read_as_modelmesh_by_its_shape(document: dict[str, Any], expected: bool) -> None:
    assert is_modelmesh(document) is expected


# -- keys that mean something for health --------------------------------------------------------


def test_discovery_health_interval_and_timeout_set_the_probe_schedule() -> None:
    config = load(MINIMAL + "discovery: {health: {interval: 60s, timeout: 4s}}\n")
    assert (config.schedule.interval, config.schedule.timeout) == (60.0, 4.0)
    reading = config.modelmesh
    assert reading is not None
    assert ("discovery.health.interval", "schedule.interval") in reading.mapped


def test_the_daemon_own_schedule_wins_over_discovery_health() -> None:
    config = load(MINIMAL + "schedule: {interval: 5s}\ndiscovery: {health: {interval: 60s}}\n")
    assert config.schedule.interval == 5.0


def test_a_bad_discovery_interval_is_reported_where_it_was_written() -> None:
    found = errors(MINIMAL + "discovery:\n  health:\n    interval: soon\n")
    assert len(found) == 1
    assert found[0].startswith("mm.yaml:14: discovery.health.interval: ")
    assert "'soon' is not a duration" in found[0]


@pytest.mark.parametrize("threshold", [1, 2, 3, 5, 10])
def test_failure_threshold_is_how_many_failed_probes_take_a_healthy_provider_down(
    threshold: int,
) -> None:
    config = load(MINIMAL + f"discovery: {{health: {{failure_threshold: {threshold}}}}}\n")
    assert config.policy().failures_to_down() == threshold


def test_failure_threshold_of_three_keeps_the_default_policy() -> None:
    config = load(MINIMAL + "discovery: {health: {failure_threshold: 3}}\n")
    assert config.health.ema_alpha == DEFAULT_POLICY.ema_alpha


@pytest.mark.parametrize("bad", ["0", "-2", "2.5", "many", "true"])
def test_a_failure_threshold_that_is_not_a_count_is_an_error(bad: str) -> None:
    found = errors(MINIMAL + f"discovery: {{health: {{failure_threshold: {bad}}}}}\n")
    assert len(found) == 1
    assert "discovery.health.failure_threshold: must be a whole number of at least 1" in found[0]


@given(st.integers(1, 60), st.floats(0.05, 0.95))
def test_the_chosen_weight_gives_exactly_the_threshold(failures: int, minimum: float) -> None:
    alpha = alpha_for_failures(failures, minimum)
    assert alpha is not None
    policy = HealthPolicy(ema_alpha=alpha, min_availability=minimum, recovery_threshold=minimum)
    assert policy.failures_to_down() == failures


def test_a_disabled_provider_needs_no_key_and_its_models_stay_in_standby() -> None:
    text = MINIMAL + "  anthropic:\n    capability: generation\n"
    text = text.replace(
        "models:",
        "  anthropic.claude.v1:\n    enabled: false\nmodels:\n"
        "  haiku:\n    provider: anthropic.claude.v1\n"
        "    capabilities: [generation.text-generation.chat-completion]",
    )
    config = load(text)
    assert config.providers["anthropic.claude.v1"].enabled is False
    assert "haiku" in config.mesh().disabled


def test_an_environment_variable_overrides_a_provider_base_url() -> None:
    env = {"MODELMESH_HEALTHD_BASE_URL_OPENAI_LLM_V1": "http://127.0.0.1:8123"}
    config = load(MINIMAL, env)
    # in ModelMesh's meaning, as a `base_url` written in the file would be
    assert config.providers["openai.llm.v1"].base_url == connector_url(
        "openai.llm.v1", "http://127.0.0.1:8123"
    )


def test_undefined_models_and_providers_in_a_pool_are_typos() -> None:
    text = MINIMAL.replace(
        "    capability: generation", "    models: [gpt-4]\n    providers: [openai.llm]"
    )
    assert errors(text) == [
        "mm.yaml:11: pools.chat.models[0]: unknown model 'gpt-4' (did you mean 'gpt-4o'?)",
        "mm.yaml:12: pools.chat.providers[0]: unknown provider 'openai.llm' "
        "(did you mean 'openai.llm.v1'?)",
    ]


def test_the_docs_list_every_documented_key() -> None:
    text = (ROOT / "docs" / "modelmesh.md").read_text(encoding="utf-8")
    section = text.split("## Your ModelMesh YAML as it is", 1)[1].split("\n## ", 1)[0]
    section = section.split("### Every documented ModelMesh key", 1)[1]
    listed = set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE))
    assert listed == {k.path for k in MM_KEYS}


P = "providers: {openai.llm.v1: {api_key: k}}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "providers:\n  openai.llm.v1: {api_key: k}\n  groq.api.v1: 5",
            'providers["groq.api.v1"]: must be a mapping, got int',
        ),
        (
            "providers: {openai.llm.v1: {config: 5}}",
            'providers["openai.llm.v1"].config: must be a mapping, got int',
        ),
        (
            "providers: {openai.llm.v1: {connector: 5}}",
            'providers["openai.llm.v1"].connector: must be a string, got int',
        ),
        (P + "models: 5", "models: must be a mapping, got int"),
        (P + "models: {m: 5}", "models.m: must be a mapping, got int"),
        (
            P + "models: {m: {provider: openai.llm.v1, capabilities: chat}}",
            "models.m.capabilities: must be a list of non-empty strings, got a string",
        ),
        (
            P + "models: {m: {provider: openai.llm.v1, capabilities: ['']}}",
            "models.m.capabilities: must be a list of non-empty strings, got a list",
        ),
        (P + "pools: {p: 5}", "pools.p: must be a mapping, got int"),
        (P + "pools: {p: {capability: ''}}", "pools.p.capability: must be a non-empty string"),
        (P + "pools: {p: {models: a}}", "pools.p.models: must be a list of non-empty strings"),
        (P + "discovery: 5", "discovery: must be a mapping, got int"),
        (P + "discovery: {health: 5}", "discovery.health: must be a mapping, got int"),
        (P + "storage: 5", "storage: must be a mapping, got int"),
        (P + "proxy: {auth: [a]}", "proxy.auth: must be a mapping, got a list"),
    ],
)
def test_a_malformed_modelmesh_section_is_one_line_at_its_key(text: str, expected: str) -> None:
    (found,) = errors(text)
    assert found.split(": ", 1)[1].startswith(expected)


def test_a_connector_modelmesh_lite_does_not_ship_is_accepted_and_never_probed() -> None:
    config = load(MINIMAL.replace("models:", "  huggingface.inference.v1: {api_key: k}\nmodels:"))
    provider = config.providers["huggingface.inference.v1"]
    assert (provider.kind, provider.probed) == ("unsupported", False)
    assert config.notices() == [
        'providers["huggingface.inference.v1"]: unsupported: a connector modelmesh-lite 0.1.1 '
        "does not ship, so never probed and never put on standby by this daemon"
    ]


def test_a_connector_id_close_to_a_shipped_one_is_a_typo() -> None:
    text = MINIMAL.replace("models:", "  antropic.claude.v1: {api_key: k}\nmodels:")
    assert errors(text) == [
        "mm.yaml:5: providers[\"antropic.claude.v1\"]: unknown connector 'antropic.claude.v1' "
        "(did you mean 'anthropic.claude.v1'?)"
    ]


def test_validate_names_the_ignored_keys_once_each_as_patterns() -> None:
    text = MINIMAL.replace("    api_key: sk-test", "    api_key: sk-test\n    budget: {}") + (
        "  other:\n    capability: generation\n    strategy: x\n"
    )
    text = text.replace(
        "    capability: generation\n", "    capability: generation\n    strategy: y\n", 1
    )
    reading = load(text).modelmesh
    assert reading is not None
    assert reading.summary()[1] == (
        "3 ModelMesh-only settings ignored (providers.*.budget, pools.*.strategy): "
        "`validate --show` lists them"
    )


def test_discovery_health_applies_wherever_the_daemon_sections_sit_in_the_file() -> None:
    text = (
        "discovery: {health: {interval: 60s, failure_threshold: 5}}\n"
        + MINIMAL
        + ("schedule: {timeout: 3s}\nhealth: {recovery_successes: 3}\n")
    )
    config = load(text)
    assert (config.schedule.interval, config.schedule.timeout) == (60.0, 3.0)
    assert config.policy().failures_to_down() == 5
    assert config.health.recovery_successes == 3


def test_a_fleet_file_keeps_a_few_examples_of_each_ignored_key() -> None:
    providers = {
        f"p{i}.openai.llm.v1": {"connector": "openai.llm.v1", "api_key": "k", "budget": {}}
        for i in range(5)
    }
    reading = load({"providers": providers}).modelmesh
    assert reading is not None
    assert reading.ignored_keys == (("providers.*.budget", 5),)
    assert reading.summary()[1].startswith("5 ModelMesh-only settings ignored")
    assert reading.details() == [
        '  providers["p0.openai.llm.v1"].budget: ignored (spend and quota accounting of '
        "ModelMesh's router)",
        '  providers["p1.openai.llm.v1"].budget: ignored (spend and quota accounting of '
        "ModelMesh's router)",
        '  providers["p2.openai.llm.v1"].budget: ignored (spend and quota accounting of '
        "ModelMesh's router)",
        "  ... and 2 more providers.*.budget",
    ]
