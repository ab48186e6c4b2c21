"""`invoke deploy` on a simulated cluster of each driver, twice: the second run changes nothing.

Each cluster holds what its driver puts there before this tool runs (the names are
written out here as the upstream manifests have them, with the file they come from):

* heat (openstack/magnum stable/2025.1 kubernetes fragments): the Cinder CSI node plugin
  kube-system/csi-cinder-nodeplugin, tolerating every taint (enable-cinder-csi.sh), the
  cluster autoscaler kube-system/cluster-autoscaler knowing only default-worker
  (enable-auto-scaling.sh), no StorageClass.
* capi-helm (azimuth-cloud/capi-helm-charts cluster-addons with magnum-capi-helm 1.4.0):
  openstack-system/openstack-cinder-csi-nodeplugin tolerating every taint, a default
  StorageClass named after the cloud's default volume type, and the NVIDIA GPU operator
  as release gpu-operator/nvidia-gpu-operator.
* existing: a cluster made by hand, with the plugin under the heat name.

Magnum and the other OpenStack services are the fake cloud, Kubernetes the emulator (the
cluster's API address is pointed at it), helm the recording helm.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from scripts import orchestrate
from scripts.cluster import deploy as cluster_deploy
from scripts.core import loading
from scripts.core.console import Console
from tests.cluster.conftest import CLUSTER, HEAT_IMAGE, merge
from tests.conftest import TaskRun
from tests.hub.conftest import use_kubeconfig
from tests.support.driver_clusters import seed
from tests.support.fake_helm import FakeHelm
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


def deploy(environment: loading.Environment, cloud: FakeCloud) -> orchestrate.DeployReport:
    return orchestrate.deploy(
        environment, Console(), health=False, clock=cloud.clock, connection=cloud.conn
    )


@pytest.mark.parametrize("driver", ["heat", "capi-helm", "existing"])
def test_deploy_twice_makes_no_mutating_call_the_second_time(
    driver: str,
    environment_for: Callable[[str], loading.Environment],
    kube: FakeKube,
    fake_helm: FakeHelm,
    fake_cloud: FakeCloud,
) -> None:
    environment = environment_for(driver)

    first = deploy(environment, fake_cloud)

    assert all(result.ok for result in first.releases), [r.error for r in first.releases]
    installed = sorted(release["name"] for release in fake_helm.releases().values())
    if driver == "capi-helm":
        # The platform's GPU operator is used; the hub's class is not a second default.
        # blackbox: the probe release monitoring.deploy installs after its stack.
        assert installed == ["blackbox", "jhub", "prometheus"]
        ours = kube.get("storageclasses", "cinder-storage")
        assert ours is not None and not (ours["metadata"].get("annotations") or {})
    else:
        assert installed == ["blackbox", "gpu-operator", "jhub", "prometheus"]
    if driver == "heat":
        scaler = kube.get("deployments", "cluster-autoscaler", "kube-system")
        assert scaler is not None
        command = scaler["spec"]["template"]["spec"]["containers"][0]["command"]
        assert "--nodes=0:2:gpu-worker" in command

    kube.clear_requests()
    upgrades = len(fake_helm.upgrades())
    cloud_calls = len(fake_cloud.mutating_calls())

    second = deploy(environment, fake_cloud)

    assert all(result.ok for result in second.releases), [r.error for r in second.releases]
    assert kube.mutating_requests() == []
    assert len(fake_helm.upgrades()) == upgrades
    assert fake_helm.rollbacks() == []
    assert len(fake_cloud.mutating_calls()) == cloud_calls


def test_deploy_recover_needs_yes(run_task: Callable[..., TaskRun], config_dir: Path) -> None:
    result = run_task("deploy", "--recover")
    assert result.code == 2
    assert "option --yes: required with --recover" in result.err
