"""A driver's environment with its cluster made and seeded (test_deploy_drivers and
test_deploy_graph use it; tests do not import each other)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from scripts.cluster import deploy as cluster_deploy
from scripts.core import loading
from scripts.core.console import Console
from tests.cluster.conftest import CLUSTER, HEAT_IMAGE, merge
from tests.conftest import TaskRun
from tests.hub.conftest import use_kubeconfig
from tests.support.driver_clusters import seed
from tests.support.fakecloud import FakeCloud
from tests.support.fakekube import FakeKube

ENV = "drivers"


@pytest.fixture
def environment_for(  # noqa: PLR0917 - pytest passes fixtures by name
    config_dir: Path,
    run_task: Callable[..., TaskRun],
    kube: FakeKube,
    fake_cloud: FakeCloud,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[str], loading.Environment]:
    """The environment of a driver, its cluster made (for Magnum drivers) and seeded."""
    fake_cloud.clouds_yaml(tmp_path, monkeypatch)

    def make(driver: str) -> loading.Environment:
        assert run_task("config.init", "--env", ENV).code == 0
        path = config_dir / f"{ENV}.yaml"
        config = yaml.safe_load(path.read_text())
        config["cloud"] = "fake"
        config["cluster"] = merge(CLUSTER, {"driver": driver})
        if driver == "heat":
            # Magnum gives Fedora CoreOS images to the heat driver, which (unlike
            # capi-helm) lets a node group autoscale from zero.
            config["cluster"] = merge(
                config["cluster"], {"image": HEAT_IMAGE, "gpu": {"min_nodes": 0}}
            )
        config["hub"]["floating_ip"] = None
        path.write_text(yaml.safe_dump(config))
        secrets_path = config_dir / f"{ENV}.secrets.yaml"
        secrets = yaml.safe_load(secrets_path.read_text())
        secrets["oauth_client_secret"] = "client-secret-for-tests"
        secrets_path.write_text(yaml.safe_dump(secrets))
        environment = loading.load(ENV)
        if driver == "existing":
            use_kubeconfig(kube, config_dir, ENV)
        else:
            uuid = cluster_deploy.run(
                environment, Console(), clock=fake_cloud.clock, connection=fake_cloud.conn
            )
            assert uuid is not None
            # The cluster's API is the emulator (the kubeconfig is written for it).
            fake_cloud.clusters[uuid]["api_address"] = kube.url
        seed(kube, driver)
        return environment

    return make
