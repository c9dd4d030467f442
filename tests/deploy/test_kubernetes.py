"""deploy/kubernetes/: every manifest passes the Kubernetes API's own JSON schemas (strict, from
the kubernetes-validate package, offline), and the Deployment, its probes and the configuration
it mounts fit the daemon."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from modelmesh_healthd.config import load_config_text
from modelmesh_healthd.daemon.replica_options import replica_options

MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
KUBERNETES = "1.30.0"
ENV = {"OPENAI_API_KEY": "sk-test", "ANTHROPIC_API_KEY": "sk-ant-test"}


def documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc)
        for path in sorted(MANIFESTS.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def find(kind: str, name: str) -> dict[str, Any]:
    return next(d for _, d in documents() if d["kind"] == kind and d["metadata"]["name"] == name)


def healthd_container() -> dict[str, Any]:
    deployment = find("Deployment", "modelmesh-healthd")
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def mounted_config() -> str:
    text: str = find("ConfigMap", "modelmesh-healthd")["data"]["config.yaml"]
    return text


@pytest.mark.parametrize(("where", "doc"), documents(), ids=[w for w, _ in documents()])
def test_each_manifest_is_valid_for_the_kubernetes_api(where: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_the_checker_refuses_a_misspelt_field() -> None:
    deployment = find("Deployment", "modelmesh-healthd")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_the_daemon_runs_as_three_replicas() -> None:
    assert find("Deployment", "modelmesh-healthd")["spec"]["replicas"] == 3


def test_liveness_and_readiness_are_the_admin_endpoints_livez_and_readyz() -> None:
    container = healthd_container()
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "admin"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    port = next(p for p in container["ports"] if p["name"] == "admin")["containerPort"]
    config = load_config_text(mounted_config(), environ=ENV)
    assert config.admin.host == "0.0.0.0"
    assert config.admin.listen.endswith(f":{port}")


def test_the_mounted_configuration_loads_and_asks_for_replicas_on_the_redis_service() -> None:
    config = load_config_text(mounted_config(), environ=ENV)
    assert config.storage.url is not None
    bare, ttl = replica_options(config.storage.url)
    assert ttl is not None
    assert ttl <= 10.0
    redis = find("Service", "modelmesh-healthd-redis")
    assert bare.startswith(
        f"redis://{redis['metadata']['name']}:{redis['spec']['ports'][0]['port']}/"
    )


def test_the_grace_period_covers_the_drain_and_the_final_save() -> None:
    config = load_config_text(mounted_config(), environ=ENV)
    spec = find("Deployment", "modelmesh-healthd")["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] >= config.daemon.drain_timeout + 10


def test_the_api_keys_come_from_a_secret_not_from_the_manifests() -> None:
    container = healthd_container()
    assert container["envFrom"] == [{"secretRef": {"name": "modelmesh-healthd-keys"}}]
    assert "sk-" not in "".join(p.read_text() for p in MANIFESTS.glob("*.yaml"))
