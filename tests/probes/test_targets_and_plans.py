"""What each kind asks (PROVIDERS.md's probes), target validation, the registry, the client."""

from __future__ import annotations

from typing import Any

import certifi
import httpx
import pytest
from pydantic import SecretStr

from modelmesh_healthd.kinds import KINDS
from modelmesh_healthd.probes import (
    PROBES,
    TRANSPORTS,
    AzureOptions,
    BodyCondition,
    ClientOptions,
    HttpOptions,
    LocalOptions,
    ProbeTarget,
    UnknownKindError,
    build_client,
    get_probe,
    plan,
    validate_target,
)

KEY = "k-123"


def target(kind: str, base: str = "https://h.example", **kw: Any) -> ProbeTarget:
    return ProbeTarget(name="p", kind=kind, base_url=base, api_key=SecretStr(KEY), **kw)


@pytest.mark.parametrize(
    ("kind", "models", "urls", "auth"),
    [
        ("openai", (), ["https://h.example/models"], {"authorization": f"Bearer {KEY}"}),
        ("openai", (("m", "gpt-4o"),), ["https://h.example/models/gpt-4o"], {}),
        ("openai", (("m", "a"), ("n", "b")), ["https://h.example/models"], {}),
        ("openai", (("m", "org/model"),), ["https://h.example/models"], {}),
        (
            "anthropic",
            (),
            ["https://h.example/v1/models?limit=1"],
            {"x-api-key": KEY, "anthropic-version": "2023-06-01"},
        ),
        ("anthropic", (("m", "a"), ("n", "b")), ["https://h.example/v1/models?limit=1000"], {}),
        ("gemini", (), ["https://h.example/v1beta/models?pageSize=1"], {"x-goog-api-key": KEY}),
        ("gemini", (("m", "models/g"),), ["https://h.example/v1beta/models/g"], {}),
        ("openrouter", (), ["https://h.example/api/v1/key"], {"authorization": f"Bearer {KEY}"}),
        (
            "azure-openai",
            (),
            ["https://h.example/openai/models?api-version=2024-10-21"],
            {"api-key": KEY},
        ),
        ("ollama", (), ["https://h.example/api/version"], {}),
        ("ollama", (("m", "llama3.2"),), ["https://h.example/api/tags"], {}),
        ("local", (), ["https://h.example/health", "https://h.example/v1/models"], {}),
        ("http", (), ["https://h.example/"], {"authorization": f"Bearer {KEY}"}),
    ],
)
def test_each_kind_asks_the_token_free_endpoint_that_proves_the_key(
    kind: str, models: tuple[tuple[str, str], ...], urls: list[str], auth: dict[str, str]
) -> None:
    steps = plan(target(kind, models=models, deep=False))  # the front door; rungs: test_rungs
    assert [s.url for s in steps] == urls
    assert all(s.method == "GET" for s in steps)
    for name, value in auth.items():
        assert steps[0].headers[name] == value


def test_kind_options_change_the_urls() -> None:
    azure = plan(target("azure-openai", options=AzureOptions(api_version="2025-01-01")))
    assert azure[0].url.endswith("/openai/models?api-version=2025-01-01")
    local = plan(
        target("local", options=LocalOptions(health_path="/healthz", models_path="/models"))
    )
    assert [s.url for s in local] == ["https://h.example/healthz", "https://h.example/models"]
    http = plan(target("http", options=HttpOptions(method="head", path="/ping?x=1")))
    assert (http[0].method, http[0].url) == ("HEAD", "https://h.example/ping?x=1")


def test_extra_headers_are_sent_and_may_override_a_default() -> None:
    steps = plan(target("anthropic", headers={"anthropic-version": "2024-01-01", "x-team": "t"}))
    assert steps[0].headers["anthropic-version"] == "2024-01-01"
    assert steps[0].headers["x-team"] == "t"


def test_a_target_never_shows_its_key_or_header_values() -> None:
    t = target("http", headers={"x-token": "hv-1"}, options=HttpOptions(headers={"x-b": "hv-2"}))
    for text in (repr(t), str(t)):
        assert KEY not in text
        assert "hv-1" not in text
        assert "hv-2" not in text
    assert set(t.secrets()) == {KEY, "hv-1", "hv-2"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timeout": 0}, "timeout"),
        ({"max_body_bytes": 0}, "max_body_bytes"),
        ({"degraded_after": -1}, "degraded_after"),
    ],
)
def test_a_target_with_impossible_bounds_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        target("openai", **fields)


@pytest.mark.parametrize(
    ("t", "error", "message"),
    [
        (target("grpc"), UnknownKindError, "known kinds: openai"),
        (target("openai", options=LocalOptions()), ValueError, "takes no options"),
        (target("local", options=AzureOptions()), ValueError, "takes LocalOptions"),
        (target("openai", base="ftp://h.example"), ValueError, "http"),
        (target("openai", headers={"x-a": "v\r\nx-b: 1"}), ValueError, "header 'x-a'"),
        (target("openai", headers={"bad name": "v"}), ValueError, "header 'bad name'"),
        (
            target("http", options=HttpOptions(headers={"x-t": "caf\u00e9"})),
            ValueError,
            "header 'x-t'",
        ),
        (
            target("http", options=HttpOptions(body=(BodyCondition(regex="(unclosed"),))),
            ValueError,
            "bad regex",
        ),
        (
            target("http", options=HttpOptions(body=(BodyCondition(json_path="$.a b"),))),
            ValueError,
            "JSON path",
        ),
    ],
)
def test_validation_names_what_is_wrong_with_a_target(
    t: ProbeTarget, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        validate_target(t)


def test_every_probed_kind_of_the_registry_has_a_probe_and_valid_targets_validate() -> None:
    assert set(PROBES) == {name for name, spec in KINDS.items() if spec.probed}
    assert "unsupported" not in PROBES
    for kind in PROBES:
        validate_target(target(kind))


def test_the_unsupported_kind_is_known_but_never_probed() -> None:
    with pytest.raises(UnknownKindError, match="not probed"):
        get_probe("unsupported")


def test_an_unknown_kind_is_a_lookup_error_naming_the_known_ones() -> None:
    with pytest.raises(UnknownKindError, match="azure-openai"):
        get_probe("azure")


async def test_the_client_factory_builds_either_transport_with_the_pool_sized() -> None:
    for transport in TRANSPORTS:
        async with build_client(ClientOptions(transport=transport, ca_bundle=certifi.where())) as c:
            assert isinstance(c, httpx.AsyncClient)
            assert c.max_redirects == 5


def test_the_client_factory_refuses_what_it_cannot_build() -> None:
    with pytest.raises(ValueError, match="unknown transport"):
        build_client(ClientOptions(transport="curl"))  # type: ignore[arg-type]  # wrong on purpose
    with pytest.raises(ValueError, match="concurrency"):
        build_client(ClientOptions(concurrency=0))


def test_a_bad_header_is_named_but_its_secret_value_never_shown() -> None:
    with pytest.raises(ValueError, match="header") as caught:
        validate_target(target("openai", headers={"x-token": "sekret-value\n"}))
    assert "sekret" not in str(caught.value)
