"""Loading configurations: interpolation, durations, ModelMesh's shape, pools, secrets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from command_support import call_main
from modelmesh_healthd.config import (
    ConfigError,
    load_config,
    load_config_text,
    parse_duration,
    parse_size,
)
from modelmesh_healthd.state import DEFAULT_POLICY

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-live-THIS-MUST-NEVER-BE-PRINTED"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (30, 30.0),
        (2.5, 2.5),
        ("30s", 30.0),
        ("500ms", 0.5),
        ("2m", 120.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        (" 10 s ", 10.0),
        ("1d", 86400.0),
        ("45", 45.0),
    ],
)
def test_durations_read_as_seconds(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "soon", "10 parsecs", "-5s", -1, True, None, "1h foo"])
def test_bad_durations_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@given(st.integers(0, 10**6), st.sampled_from(["ms", "s", "m", "h"]))
def test_a_duration_string_is_its_number_times_its_unit(n: int, unit: str) -> None:
    factor = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]
    assert parse_duration(f"{n}{unit}") == pytest.approx(n * factor)


@pytest.mark.parametrize(
    ("text", "size"),
    [(65536, 65536), ("1MiB", 1048576), ("64KiB", 65536), ("2MB", 2_000_000), ("10b", 10)],
)
def test_sizes_read_as_bytes(text: str | int, size: int) -> None:
    assert parse_size(text) == size


BASE = """
providers:
  openai:
    kind: openai
    api_key: {key}
"""


@pytest.mark.parametrize(
    ("reference", "environ", "expected"),
    [
        ("${OPENAI_KEY}", {"OPENAI_KEY": "sk-a"}, "sk-a"),
        ("${env:OPENAI_KEY}", {"OPENAI_KEY": "sk-b"}, "sk-b"),
        ("${secrets:OPENAI_KEY}", {"OPENAI_KEY": "sk-c"}, "sk-c"),
        ("${OPENAI_KEY:-fallback}", {}, "fallback"),
        ("${OPENAI_KEY:-fallback}", {"OPENAI_KEY": ""}, "fallback"),
        ("${OPENAI_KEY:-fallback}", {"OPENAI_KEY": "sk-d"}, "sk-d"),
        ("prefix-${A}-${B}", {"A": "1", "B": "2"}, "prefix-1-2"),
        ("'$${NOT_A_REF}'", {}, "${NOT_A_REF}"),
    ],
)
def test_references_resolve_from_the_environment(
    reference: str, environ: dict[str, str], expected: str
) -> None:
    config = load_config_text(BASE.format(key=reference), environ=environ)
    key = config.providers["openai"].api_key
    assert key is not None
    assert key.get_secret_value() == expected


def test_a_file_reference_reads_the_secret_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "openai.key").write_text(SECRET + "\n")
    path = tmp_path / "c.yaml"
    path.write_text(BASE.format(key="${file:openai.key}"))
    key = load_config(path, environ={}).providers["openai"].api_key
    assert key is not None
    assert key.get_secret_value() == SECRET


def test_a_secret_never_appears_in_repr_dump_or_errors() -> None:
    text = BASE.format(key="${KEY}") + "    base_ur: x\n"
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, environ={"KEY": SECRET})
    assert SECRET not in str(caught.value)
    config = load_config_text(BASE.format(key="${KEY}"), environ={"KEY": SECRET})
    assert SECRET not in repr(config)
    assert SECRET not in str(config.model_dump())
    assert SECRET not in config.model_dump_json()


def test_a_config_is_immutable() -> None:
    config = load_config_text(BASE.format(key="sk"), environ={})
    with pytest.raises(AttributeError, match="cannot assign"):
        config.providers["openai"].kind = "anthropic"  # type: ignore[misc]  # the point of the test
    with pytest.raises(ValueError, match="frozen"):
        config.schedule.interval = 1.0  # type: ignore[misc]  # the point of the test


def test_defaults_match_the_health_policy_and_the_schedule() -> None:
    config = load_config_text("providers: {local: {kind: ollama}}", environ={})
    assert config.policy() == DEFAULT_POLICY
    assert (config.schedule.interval, config.schedule.fast_interval) == (30.0, 5.0)
    assert config.storage.sync_policy == "immediate"
    assert config.admin.listen == "127.0.0.1:9464"


def test_a_provider_schedule_overrides_the_global_one_field_by_field() -> None:
    config = load_config_text(
        """
schedule: {interval: 30s, timeout: 10s}
providers:
  ollama: {kind: ollama, schedule: {timeout: 2s}}
""",
        environ={},
    )
    schedule = config.schedule_for("ollama")
    assert (schedule.interval, schedule.timeout) == (30.0, 2.0)


def test_pools_take_listed_models_whole_providers_and_capability_matches() -> None:
    config = load_config_text(
        """
providers:
  openai: {kind: openai, api_key: sk}
  anthropic: {kind: anthropic, api_key: sk}
  ollama: {kind: ollama}
models:
  openai.gpt-4o: {provider: openai, capabilities: [generation.text-generation.chat-completion]}
  openai.embed: {provider: openai, capabilities: [representation.embeddings]}
  anthropic.sonnet: {provider: anthropic}
  ollama.llama: {provider: ollama, enabled: false}
pools:
  chat: {capability: chat-completion, models: [anthropic.sonnet]}
  generation: {capability: generation}
  local: {providers: [ollama]}
""",
        environ={},
    )
    assert config.pool_members("chat") == ["anthropic.sonnet", "openai.gpt-4o"]
    assert config.pool_members("generation") == ["openai.gpt-4o"]
    mesh = config.mesh()
    assert mesh.pools["local"] == ("ollama.llama",)
    assert mesh.disabled == frozenset({"ollama.llama"})
    assert config.upstream_name("openai.gpt-4o") == "gpt-4o"


MODELMESH = """
secrets:
  store: modelmesh.env.v1
providers:
  openai.llm.v1:
    connector: openai.llm.v1
    config:
      api_key: "${secrets:OPENAI_API_KEY}"
    budget: {daily_limit: 10.0}
  groq.v1:
    connector: groq.v1
    config: {api_key: "${secrets:GROQ_API_KEY}"}
  azure.v1:
    connector: azure.openai.v1
    config:
      api_key: "${secrets:AZURE_KEY}"
      endpoint: https://res.openai.azure.com
      api_version: "2024-10-21"
  local.vllm:
    connector: vllm.v1
    config: {base_url: "http://127.0.0.1:8000"}
models:
  openai.gpt-4o:
    provider: openai.llm.v1
    capabilities: [generation.text-generation.chat-completion]
    features: {tool_calling: true}
  groq.llama:
    provider: groq.v1
    name: llama-3.3-70b-versatile
    capabilities: [generation.text-generation.chat-completion]
pools:
  chat:
    capability: generation.text-generation.chat-completion
    strategy: stick-until-failure
storage:
  connector: modelmesh.local-file.v1
  sync_policy: periodic
"""


def test_modelmesh_shape_loads_with_connectors_mapped_to_probe_kinds() -> None:
    env = {"OPENAI_API_KEY": "sk-o", "GROQ_API_KEY": "gsk", "AZURE_KEY": "az"}
    config = load_config_text(MODELMESH, environ=env)
    kinds = {pid: (p.kind, p.url) for pid, p in config.providers.items()}
    assert kinds == {
        "openai.llm.v1": ("openai", "https://api.openai.com/v1"),
        "groq.v1": ("groq", "https://api.groq.com/openai"),
        "azure.v1": ("azure-openai", "https://res.openai.azure.com"),
        "local.vllm": ("local", "http://127.0.0.1:8000"),
    }
    assert config.providers["azure.v1"].api_version == "2024-10-21"
    assert config.pool_members("chat") == ["openai.gpt-4o", "groq.llama"]
    assert config.upstream_name("groq.llama") == "llama-3.3-70b-versatile"
    assert config.storage.sync_policy == "immediate"  # ModelMesh's storage is its own


def test_modelmesh_shape_still_rejects_a_misspelt_key_at_its_original_path() -> None:
    text = MODELMESH.replace("    budget: {daily_limit: 10.0}", "    scheduel: {interval: 5s}")
    with pytest.raises(ConfigError) as caught:
        load_config_text(
            text,
            source="mm.yaml",
            environ={"OPENAI_API_KEY": "k", "GROQ_API_KEY": "k", "AZURE_KEY": "k"},
        )
    assert caught.value.render() == (
        "mm.yaml:9: providers[\"openai.llm.v1\"].scheduel: unknown key (did you mean 'schedule'?)"
    )


def test_modelmesh_shape_reports_a_missing_secret_where_it_was_written() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(
            MODELMESH, source="mm.yaml", environ={"GROQ_API_KEY": "k", "AZURE_KEY": "k"}
        )
    assert caught.value.render() == (
        'mm.yaml:8: providers["openai.llm.v1"].config.api_key: '
        "environment variable OPENAI_API_KEY is not set"
    )


@pytest.mark.parametrize("name", ["example.yaml"])
def test_shipped_configurations_load(name: str) -> None:
    config = load_config(ROOT / "config" / name, environ={})
    assert config.providers
    assert {p.kind for p in config.providers.values()} >= {
        "openai",
        "anthropic",
        "gemini",
        "openrouter",
        "azure-openai",
        "ollama",
        "local",
        "http",
    }


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelmesh_healthd", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
    )


# validate through the entry point in this process (its process tests: tests/cli/ and
# tests/config/test_invalid_configs_as_processes.py); schema, which has no other, as a process.
def test_validate_exits_0_on_the_example() -> None:
    result = call_main(["validate", "config/example.yaml", "--show"], cwd=ROOT)
    assert result.code == 0, result.stderr
    assert "11 providers" in result.stdout
    assert "chat-completion:" in result.stdout


def test_validate_exits_2_with_one_line_naming_the_key_path() -> None:
    result = call_main(["validate", "tests/config/invalid/misspelt_key.yaml"], cwd=ROOT)
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        "tests/config/invalid/misspelt_key.yaml:4: providers.openai.base_ur: "
        "unknown key (did you mean 'base_url'?)"
    ]
    assert "Traceback" not in result.stderr


def test_validate_exits_2_for_a_missing_file() -> None:
    result = call_main(["validate", "no/such/config.yaml"], cwd=ROOT)
    assert result.code == 2
    assert "no/such/config.yaml: (top level): cannot read" in result.stderr


def test_schema_prints_a_json_schema_of_the_configuration() -> None:
    result = run_cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "modelmesh-healthd configuration"
    assert schema["additionalProperties"] is False
    assert "providers" in schema["properties"]
