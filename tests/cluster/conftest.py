"""Fixtures of the cluster tests: an environment whose cloud is the fake cloud."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.core import loading
from scripts.core.console import Console
from scripts.core.loading import Environment
from tests.support.fakecloud import FakeCloud

ENV = "cloudtest"
ROOT = Path(__file__).resolve().parents[2]

# The example environment, pointed at what the fake cloud serves.
CLUSTER = {
    "driver": "capi-helm",
    "name": "jhub-test",
    "template": "jhub-test-template",
    "image": "ubuntu-jammy-kube-v1.32.4",
    "keypair": "operator-key",
    "external_network": "public",
    "master_flavor": "m1.medium",
    "worker_flavor": "m1.large",
    "min_workers": 1,
    "max_workers": 5,
    # capi-helm refuses min_nodes below 1 with autoscaling (magnum-capi-helm driver.py).
    "gpu": {"enabled": True, "flavor": "g1.large.a100", "min_nodes": 1, "max_nodes": 2},
    "node_groups": [
        {"name": "highmem-worker", "flavor": "m1.xlarge", "min_nodes": 1, "max_nodes": 2}
    ],
}
# Magnum picks the driver from the image's os_distro: the heat driver boots Fedora CoreOS.
HEAT_IMAGE = "fedora-coreos-40"


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


EnvFactory = Callable[..., Environment]


@pytest.fixture
def make_env(config_dir: Path) -> EnvFactory:
    """Write config/cloudtest.yaml (the example with CLUSTER and `changes`) and load it."""
    example = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())

    def make(**changes: Any) -> Environment:
        document = merge(example, {"cloud": "fake", "cluster": CLUSTER})
        document = merge(document, changes)
        cluster = document["cluster"]
        if cluster.get("driver") == "heat" and "image" not in changes.get("cluster", {}):
            cluster["image"] = HEAT_IMAGE
        (config_dir / f"{ENV}.yaml").write_text(yaml.safe_dump(document))
        return loading.load(ENV, require_secrets=False)

    return make


@pytest.fixture
def cloud(fake_cloud: FakeCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCloud:
    """The fake cloud, reachable as `openstack.connect(cloud="fake")`."""
    fake_cloud.clouds_yaml(tmp_path, monkeypatch)
    return fake_cloud


@pytest.fixture
def ui() -> Console:
    return Console()


@pytest.fixture(autouse=True)
def _rehearsal(documentation_values: None) -> None:
    """These tests rehearse on the fakes with the example's documentation values."""
