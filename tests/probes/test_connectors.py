"""Every provider connector of the installed modelmesh-lite maps to a probe kind or to
`unsupported`, with ModelMesh's default base URL and ModelMesh's meaning of a user's URL."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from pathlib import Path

import pytest
from modelmesh import connectors  # in the dev extra: a missing install fails, never skips
from modelmesh.connectors import providers
from structlog.testing import capture_logs

from modelmesh_healthd.cli import main
from modelmesh_healthd.config import load_config_text
from modelmesh_healthd.daemon.service import Daemon
from modelmesh_healthd.kinds import CONNECTORS, KINDS, UNSUPPORTED, connector_kind, connector_url
from modelmesh_healthd.probes import PROBES
from modelmesh_healthd.simulator import DEFAULT_KEYS, Simulator
from modelmesh_healthd.storage import read_state


def provider_connector_ids() -> list[str]:
    """The registry's ids whose class is a provider connector (not storage, secrets...)."""
    registry = connectors.CONNECTOR_REGISTRY
    return sorted(
        cid for cid, cls in registry.items() if cls.__module__.startswith(providers.__name__)
    )


def test_every_provider_connector_of_modelmesh_maps_to_a_kind_or_to_unsupported() -> None:
    ids = provider_connector_ids()
    assert ids, "modelmesh-lite's registry lists no provider connector"
    assert sorted(set(ids) - set(CONNECTORS)) == []


@pytest.mark.parametrize("cid", sorted(CONNECTORS))
def test_each_mapped_connector_names_a_probed_kind_or_says_why_not(cid: str) -> None:
    spec = CONNECTORS[cid]
    if spec.kind is None:
        assert spec.reason
        assert connector_kind(cid) == (UNSUPPORTED, spec.base_url)
    else:
        assert spec.kind in PROBES
        assert KINDS[spec.kind].probed


@pytest.mark.parametrize("cid", provider_connector_ids())
def test_each_connector_uses_modelmeshs_own_default_base_url(cid: str) -> None:
    module = sys.modules[connectors.CONNECTOR_REGISTRY[cid].__module__]
    # The connector's own config dataclass: defined in its module, with a `base_url` field.
    (config_cls,) = [
        obj
        for obj in vars(module).values()
        if dataclasses.is_dataclass(obj)
        and isinstance(obj, type)
        and obj.__module__ == module.__name__
        and "base_url" in {f.name for f in dataclasses.fields(obj)}
    ]
    default = next(f for f in dataclasses.fields(config_cls) if f.name == "base_url").default
    if not default:  # azure.tts.v1 computes it from the region (eastus by default)
        default = config_cls(api_key="k").base_url
    assert CONNECTORS[cid].base_url == default


@pytest.mark.parametrize(
    ("cid", "modelmesh_url", "kind_url"),
    [
        ("openai.llm.v1", "https://proxy.example/openai", "https://proxy.example/openai/v1"),
        ("openrouter.gateway.v1", "https://openrouter.ai/api", "https://openrouter.ai"),
        ("groq.api.v1", "https://api.groq.com/openai/", "https://api.groq.com/openai"),
        ("acme.v1", "https://acme.example", "https://acme.example"),
    ],
)
def test_a_users_base_url_means_what_it_means_to_modelmesh(
    cid: str, modelmesh_url: str, kind_url: str
) -> None:
    assert connector_url(cid, modelmesh_url) == kind_url


MODELMESH = """
providers:
  openai.llm.v1:
    connector: openai.llm.v1
    config: {api_key: sk-o, base_url: "https://gw.example"}
  jina.ai.v1:
    connector: jina.ai.v1
    config: {api_key: jina-k}
  cohere.nlp.v1:
    connector: cohere.nlp.v1
    config: {api_key: co-k}
models:
  openai.gpt-4o: {provider: openai.llm.v1}
  jina.embed: {provider: jina.ai.v1}
"""


def test_modelmesh_yaml_loads_with_new_kinds_and_an_unsupported_notice() -> None:
    config = load_config_text(MODELMESH)
    kinds = {pid: (p.kind, p.url) for pid, p in config.providers.items()}
    assert kinds == {
        "openai.llm.v1": ("openai", "https://gw.example/v1"),
        "jina.ai.v1": ("unsupported", "https://api.jina.ai"),
        "cohere.nlp.v1": ("cohere", "https://api.cohere.com"),
    }
    assert config.notices() == [
        'providers["jina.ai.v1"]: unsupported: no free authenticated endpoint, so never probed '
        "and never put on standby by this daemon"
    ]


def test_validate_says_in_one_line_per_provider_that_it_is_unsupported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "modelmesh.yaml"
    path.write_text(MODELMESH)
    assert main(["validate", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if "unsupported" in line] == [
        f'{path}: providers["jina.ai.v1"]: unsupported: no free authenticated endpoint, so '
        "never probed and never put on standby by this daemon"
    ]


async def test_the_daemon_probes_its_neighbours_but_never_an_unsupported_provider(
    tmp_path: Path,
) -> None:
    async with Simulator() as sim:
        text = f"""
storage: {{url: "sqlite:///{tmp_path}/state.db"}}
admin: {{enabled: false}}
schedule: {{interval: 0.2s, fast_interval: 0.1s}}
providers:
  openai.llm.v1:
    connector: openai.llm.v1
    config: {{api_key: {DEFAULT_KEYS["openai"]}, base_url: "{sim.base_url}/openai"}}
  serper.search.v1:
    connector: serper.search.v1
    config: {{api_key: serper-key}}
models:
  openai.gpt-4o: {{provider: openai.llm.v1}}
  serper.search: {{provider: serper.search.v1}}
"""
        with capture_logs() as logs:
            daemon = Daemon(load_config_text(text, environ={}), environ={})
            task = asyncio.create_task(daemon.run())
            async with asyncio.timeout(10):
                while len([e for e in logs if e["event"] == "probe.completed"]) < 3:  # noqa: ASYNC110 - captured logs have no event to await
                    await asyncio.sleep(0.05)
            daemon.request_stop("test")
            assert await asyncio.wait_for(task, 15.0) == 0
        probed = {e["provider"] for e in logs if e["event"] == "probe.completed"}
        state = await read_state(f"sqlite:///{tmp_path}/state.db")
    assert probed == {"openai.llm.v1"}
    assert state is not None
    assert state.models["serper.search"].is_active
    assert state.models["openai.gpt-4o"].is_active
