"""The local stack's config and the kind commands it runs (no kind needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from scripts.core.errors import BadInput, OperationFailed
from scripts.core.loading import load
from scripts.local import kind
from tests.conftest import ROOT


@pytest.fixture
def local_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JHUB_CONFIG_DIR", str(ROOT / "config"))


def test_local_config_is_a_safe_local_hub(local_env: None, socket_disabled: None) -> None:
    environment = load("local", require_secrets=False)
    settings = environment.settings
    assert settings.cluster.driver == "existing"
    assert settings.hub.auth.type == "dummy"
    assert settings.hub.domain is None and settings.hub.https.mode == "off"
    assert settings.hub.storage.create_class is False
    assert settings.hub.placeholders.enabled is False
    assert environment.kubeconfig == ROOT / "config" / "local.kubeconfig"


def test_kind_config_and_commands(tmp_path: Path) -> None:
    cluster = kind.KindCluster("jhub-test", tmp_path / "kubeconfig")
    config_file = kind.write_config(cluster, tmp_path)
    config = yaml.safe_load(config_file.read_text())
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert config["name"] == "jhub-test"
    assert [node["role"] for node in config["nodes"]] == ["control-plane"]
    # Pinned by digest, as kind's release notes publish node images.
    assert re.fullmatch(
        r"kindest/node:v1\.\d+\.\d+@sha256:[0-9a-f]{64}", config["nodes"][0]["image"]
    )
    create = cluster.create(config_file)
    assert create[:3] == ["kind", "create", "cluster"]
    assert create[create.index("--name") + 1] == "jhub-test"
    assert create[create.index("--config") + 1] == str(config_file)
    assert create[create.index("--kubeconfig") + 1] == str(tmp_path / "kubeconfig")
    assert cluster.export_kubeconfig() == [
        "kind",
        "export",
        "kubeconfig",
        "--name",
        "jhub-test",
        "--kubeconfig",
        str(tmp_path / "kubeconfig"),
    ]
    assert cluster.delete()[:4] == ["kind", "delete", "cluster", "--name"]


@pytest.mark.parametrize("name", ["", "-rm", "a b", "x;rm"])
def test_cluster_names_that_could_be_options_are_refused(name: str) -> None:
    with pytest.raises(BadInput, match="option --name"):
        kind.checked_name(name)


def test_missing_tools_are_named_with_install_hints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(OperationFailed) as caught:
        kind.require_tools()
    assert "docker, kind, kubectl" in caught.value.cause
    assert "kind.sigs.k8s.io" in caught.value.remedy
