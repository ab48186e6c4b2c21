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

from scripts import orchestrate
from scripts.core import loading
from scripts.core.console import Console
from tests.conftest import TaskRun
from tests.support.fake_helm import FakeHelm
from tests.support.fakecloud import FakeCloud
from tests.support.fakekube import FakeKube
from tests.whole.driver_environments import (
    environment_for,  # noqa: F401 - a fixture
)


def deploy(environment: loading.Environment, cloud: FakeCloud) -> orchestrate.DeployReport:
    return orchestrate.deploy(
        environment, Console(), health=False, clock=cloud.clock, connection=cloud.conn
    )


@pytest.mark.parametrize("driver", ["heat", "capi-helm", "existing"])
def test_deploy_twice_makes_no_mutating_call_the_second_time(
    driver: str,
    environment_for: Callable[[str], loading.Environment],  # noqa: F811 - the fixture
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
