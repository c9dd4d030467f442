"""ModelMesh's `secrets:` block: env and dotenv stores resolve `${secrets:NAME}`; others refuse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelmesh_healthd.config import ConfigError, load_config, load_config_text

SECRET = "sk-very-secret-value-0123"

PROVIDERS = """
providers:
  openai.llm.v1:
    api_key: ${secrets:OPENAI_API_KEY}
"""


def api_key(config_text: str, environ: dict[str, str], base_dir: Path | None = None) -> str:
    config = load_config_text(config_text, environ=environ, base_dir=base_dir)
    key = config.providers["openai.llm.v1"].api_key
    assert key is not None
    return key.get_secret_value()


def errors(config_text: str, environ: dict[str, str], base_dir: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config_text(config_text, source="mm.yaml", environ=environ, base_dir=base_dir)
    return caught.value.render().splitlines()


def test_the_env_store_reads_the_environment_variable_of_the_name() -> None:
    text = "secrets: {store: modelmesh.env.v1}" + PROVIDERS
    assert api_key(text, {"OPENAI_API_KEY": SECRET}) == SECRET


def test_no_secrets_block_reads_the_environment_as_modelmesh_default_store_does() -> None:
    assert api_key(PROVIDERS, {"OPENAI_API_KEY": SECRET}) == SECRET


def test_the_env_store_prefix_is_put_before_the_name() -> None:
    text = "secrets: {store: modelmesh.env.v1, prefix: MM_}" + PROVIDERS
    assert api_key(text, {"MM_OPENAI_API_KEY": SECRET, "OPENAI_API_KEY": "wrong"}) == SECRET


def test_a_missing_env_secret_names_the_variable_and_its_place() -> None:
    text = "secrets: {store: modelmesh.env.v1, prefix: MM_}" + PROVIDERS
    assert errors(text, {}) == [
        'mm.yaml:4: providers["openai.llm.v1"].api_key: environment variable '
        "MM_OPENAI_API_KEY is not set (secret OPENAI_API_KEY with prefix MM_)"
    ]


def dotenv(tmp_path: Path, body: str, name: str = ".env") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_the_dotenv_store_reads_the_file_at_path_beside_the_configuration(
    tmp_path: Path,
) -> None:
    dotenv(tmp_path, f"# keys\nOPENAI_API_KEY='{SECRET}'\n")
    text = "secrets: {store: modelmesh.dotenv.v1, path: ./.env}" + PROVIDERS
    assert api_key(text, {}, base_dir=tmp_path) == SECRET


def test_the_dotenv_store_defaults_to_dot_env(tmp_path: Path) -> None:
    dotenv(tmp_path, f"OPENAI_API_KEY={SECRET}\n")
    text = "secrets: {store: modelmesh.dotenv.v1}" + PROVIDERS
    assert api_key(text, {}, base_dir=tmp_path) == SECRET


def test_the_environment_wins_over_the_dotenv_file_as_in_modelmesh(tmp_path: Path) -> None:
    dotenv(tmp_path, "OPENAI_API_KEY=from-file\n")
    text = "secrets: {store: modelmesh.dotenv.v1}" + PROVIDERS
    assert api_key(text, {"OPENAI_API_KEY": SECRET}, base_dir=tmp_path) == SECRET


def test_override_env_lets_the_dotenv_file_win(tmp_path: Path) -> None:
    dotenv(tmp_path, f"OPENAI_API_KEY={SECRET}\n")
    text = "secrets: {store: modelmesh.dotenv.v1, override_env: true}" + PROVIDERS
    assert api_key(text, {"OPENAI_API_KEY": "from-env"}, base_dir=tmp_path) == SECRET


def test_dotenv_values_are_taken_literally_without_expansion(tmp_path: Path) -> None:
    dotenv(tmp_path, "OPENAI_API_KEY=sk-${HOME}-x\n")
    text = "secrets: {store: modelmesh.dotenv.v1}" + PROVIDERS
    assert api_key(text, {"HOME": "/root"}, base_dir=tmp_path) == "sk-${HOME}-x"


def test_a_missing_dotenv_file_falls_back_to_the_environment(tmp_path: Path) -> None:
    text = "secrets: {store: modelmesh.dotenv.v1, path: ./nowhere.env}" + PROVIDERS
    assert api_key(text, {"OPENAI_API_KEY": SECRET}, base_dir=tmp_path) == SECRET


def test_a_secret_in_neither_place_names_the_file_and_the_name(tmp_path: Path) -> None:
    dotenv(tmp_path, "OTHER=1\n")
    text = "secrets: {store: modelmesh.dotenv.v1}" + PROVIDERS
    assert errors(text, {}, base_dir=tmp_path) == [
        f'mm.yaml:4: providers["openai.llm.v1"].api_key: secret OPENAI_API_KEY is not set: '
        f"neither in the environment nor in {tmp_path / '.env'}"
    ]


@pytest.mark.parametrize(
    "store",
    [
        "aws.secrets-manager.v1",
        "google.secret-manager.v1",
        "microsoft.key-vault.v1",
        "1password.connect.v1",
        "modelmesh.keyring.v1",
    ],
)
def test_other_secret_stores_are_refused_in_one_line(store: str) -> None:
    text = f"secrets: {{store: {store}, region: us-east-1}}" + PROVIDERS
    assert errors(text, {}) == [
        f"mm.yaml:1: secrets.store: secret store {store!r} is not supported by "
        "modelmesh-healthd (only modelmesh.env.v1 and modelmesh.dotenv.v1): give the daemon "
        "its keys through the environment or a .env file"
    ]


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("secrets: [env]", "secrets: must be a mapping, got a list"),
        ("secrets: {store: 7}", "secrets.store: must be a string, got int"),
        ("secrets: {store: modelmesh.env.v1, prefix: [A]}", "secrets.prefix: must be a string"),
        (
            "secrets: {store: modelmesh.dotenv.v1, override_env: maybe}",
            "secrets.override_env: must be true or false, got a string",
        ),
    ],
)
def test_a_malformed_secrets_block_is_one_line_at_its_key(block: str, message: str) -> None:
    found = errors(block + PROVIDERS, {"OPENAI_API_KEY": SECRET})
    assert len(found) == 1
    assert message in found[0]


def test_secret_values_appear_in_no_error_and_no_repr(tmp_path: Path) -> None:
    dotenv(tmp_path, f"OPENAI_API_KEY={SECRET}\nBAD_URL={SECRET}\n")
    text = (
        "secrets: {store: modelmesh.dotenv.v1}\n"
        "providers:\n"
        "  openai.llm.v1:\n"
        "    api_key: ${secrets:OPENAI_API_KEY}\n"
        "    base_url: ${secrets:BAD_URL}\n"
    )
    rendered = "\n".join(errors(text, {}, base_dir=tmp_path))
    assert "base_url" in rendered
    assert SECRET not in rendered
    good = "secrets: {store: modelmesh.dotenv.v1}" + PROVIDERS
    config = load_config_text(good, environ={}, base_dir=tmp_path)
    assert SECRET not in repr(config)
    assert SECRET not in str(config.model_dump())


def test_validate_reads_a_dotenv_file_and_never_prints_its_values(tmp_path: Path) -> None:
    dotenv(tmp_path, f"OPENAI_API_KEY={SECRET}\n")
    config = tmp_path / "modelmesh.yaml"
    config.write_text("secrets: {store: modelmesh.dotenv.v1, path: .env}" + PROVIDERS)
    result = subprocess.run(
        [sys.executable, "-m", "modelmesh_healthd", "validate", "--show", str(config)],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "secrets from modelmesh.dotenv.v1" in result.stdout
    assert SECRET not in result.stdout + result.stderr
    assert load_config(config, environ={}).providers["openai.llm.v1"].api_key is not None


def test_a_secret_only_modelmesh_uses_need_not_be_set_for_the_daemon() -> None:
    text = PROVIDERS + (
        "proxy:\n  auth:\n    method: bearer\n    tokens:\n      - ${secrets:proxy-token}\n"
    )
    assert api_key(text, {"OPENAI_API_KEY": SECRET}) == SECRET


def test_a_disabled_provider_secret_need_not_be_set() -> None:
    text = PROVIDERS + (
        "  anthropic.claude.v1:\n    enabled: false\n    api_key: ${secrets:ANTHROPIC_API_KEY}\n"
    )
    assert api_key(text, {"OPENAI_API_KEY": SECRET}) == SECRET


def test_a_secret_the_daemon_uses_must_still_be_set() -> None:
    text = PROVIDERS + "proxy:\n  auth:\n    tokens:\n      - ${secrets:proxy-token}\n"
    assert errors(text, {}) == [
        'mm.yaml:4: providers["openai.llm.v1"].api_key: '
        "environment variable OPENAI_API_KEY is not set"
    ]


def test_a_missing_secret_names_the_dotenv_lines_that_could_not_be_read(tmp_path: Path) -> None:
    dotenv(tmp_path, "OTHER=1\nthis is not an assignment\nOPENAI_API_KEY='unterminated\n")
    text = "secrets: {store: modelmesh.dotenv.v1}" + PROVIDERS
    (found,) = errors(text, {}, base_dir=tmp_path)
    assert found.endswith(f"nor in {tmp_path / '.env'} (line(s) 2, 3 of it are not KEY=VALUE)")


def test_a_dotenv_path_that_is_a_directory_is_one_line(tmp_path: Path) -> None:
    text = f"secrets: {{store: modelmesh.dotenv.v1, path: {tmp_path}}}" + PROVIDERS
    (found,) = errors(text, {"OPENAI_API_KEY": SECRET})
    assert found == f"mm.yaml:1: secrets.path: cannot read {tmp_path}: Is a directory"


def test_a_secret_named_as_modelmesh_docs_name_them_resolves_from_dotenv(tmp_path: Path) -> None:
    dotenv(tmp_path, f"openai-api-key={SECRET}\n")
    text = PROVIDERS.replace("OPENAI_API_KEY", "openai-api-key")
    assert api_key("secrets: {store: modelmesh.dotenv.v1}" + text, {}, base_dir=tmp_path) == SECRET
