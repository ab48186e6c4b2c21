"""Monitoring fixtures: an environment pointed at the Kubernetes emulator, with secrets."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from tests.support.fakekube import FakeKube

EXAMPLE: dict[str, Any] = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
ENV = "mon"
PROMETHEUS_RULES = "monitoring.coreos.com/v1/prometheusrules"


def fresh_secrets() -> dict[str, Any]:
    return {
        "proxy_secret_token": secrets.token_hex(32),
        "metrics_token": secrets.token_hex(32),
        "health_check_token": secrets.token_hex(32),
        "grafana_admin_password": secrets.token_urlsafe(24),
        "oauth_client_secret": secrets.token_urlsafe(24),
    }


def write_secrets(path: Path, values: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(values))
    path.chmod(0o600)


def set_path(config: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = config
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


MonitoringEnv = Callable[..., dict[str, Any]]


@pytest.fixture
def monitoring_env(config_dir: Path, kube: FakeKube) -> MonitoringEnv:
    """monitoring_env(**{"monitoring.expose": "loadbalancer"}) writes config/mon.yaml
    (kubeconfig: the emulator's) and its secrets file; returns the secrets."""
    chosen = fresh_secrets()
    # The chart's CRDs arrive with the release, which the recording helm never installs.
    kube.add_resource(PROMETHEUS_RULES, kind="PrometheusRule")

    def write(**changes: Any) -> dict[str, Any]:
        config = copy.deepcopy(EXAMPLE)
        set_path(config, "cluster.kubeconfig", str(kube.kubeconfig_path))
        for dotted, value in changes.items():
            set_path(config, dotted, value)
        (config_dir / f"{ENV}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        secrets_path = config_dir / f"{ENV}.secrets.yaml"
        if not secrets_path.exists():
            write_secrets(secrets_path, chosen)
        return chosen

    return write


@pytest.fixture(autouse=True)
def _rehearsal(documentation_values: None) -> None:
    """These tests rehearse on the fakes with the example's documentation values."""
