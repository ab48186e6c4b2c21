"""`invoke deploy` as a step graph: the hub does not wait for the GPU node group.

The cluster and its default workers exist (made by `environment_for`); the GPU group is
then removed from the fake Magnum and the fake is told never to finish a transition, so
the group `deploy` creates stays CREATE_IN_PROGRESS for the whole run. The sequential
procedure waited for it and timed out before any release; the graph installs the hub
and monitoring meanwhile, reports the GPU branch's failure with its cause, and a re-run
(once Magnum finished) resumes without creating anything twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scripts import orchestrate
from scripts.core import loading
from scripts.core.console import Console
from scripts.core.errors import OperationFailed
from tests.hub.conftest import use_kubeconfig
from tests.support.fake_helm import FakeHelm
from tests.support.fakecloud import FakeCloud
from tests.support.fakekube import FakeKube
from tests.whole.driver_environments import (
    ENV,
    environment_for,  # noqa: F401 - a fixture
)

GPU_GROUP = "gpu-worker"  # cluster.gpu's group name in config/example.yaml


def group(cloud: FakeCloud, name: str) -> dict[str, object] | None:
    return next((ng for ng in cloud.nodegroups.values() if ng["name"] == name), None)


def test_hub_release_starts_while_the_gpu_group_is_still_being_created(
    environment_for: Callable[[str], loading.Environment],  # noqa: F811
    fake_helm: FakeHelm,
    fake_cloud: FakeCloud,
) -> None:
    environment = environment_for("heat")
    gpu = group(fake_cloud, GPU_GROUP)
    assert gpu is not None
    del fake_cloud.nodegroups[str(gpu["uuid"])]
    fake_cloud.settle_polls = None  # nothing Magnum starts from now on finishes by itself

    with pytest.raises(OperationFailed) as failed:
        orchestrate.deploy(
            environment,
            Console(),
            health=False,
            clock=fake_cloud.clock,
            connection=fake_cloud.conn,
        )

    created = group(fake_cloud, GPU_GROUP)
    assert created is not None and created["status"] == "CREATE_IN_PROGRESS"
    installed = {release["name"] for release in fake_helm.releases().values()}
    assert {"jhub", "prometheus"} <= installed
    assert "gpu-operator" not in installed  # it follows its group
    assert f"node group {GPU_GROUP}" in failed.value.cause
    assert "1 of 3 releases failed: gpu-operator" in failed.value.cause

    # Magnum finishes; the re-run picks up where the first stopped.
    fake_cloud.settle_polls = 2
    fake_cloud.settle_all()
    creates = fake_cloud.count("POST", r"/nodegroups$")
    hub_upgrades = len([c for c in fake_helm.upgrades() if c["argv"][2] == "jhub"])

    report = orchestrate.deploy(
        environment, Console(), health=False, clock=fake_cloud.clock, connection=fake_cloud.conn
    )

    assert all(o.ok for o in report.steps), [(o.name, o.error) for o in report.steps]
    assert "gpu-operator" in {release["name"] for release in fake_helm.releases().values()}
    assert fake_cloud.count("POST", r"/nodegroups$") == creates
    assert len([c for c in fake_helm.upgrades() if c["argv"][2] == "jhub"]) == hub_upgrades


def test_dry_run_of_the_graph_changes_nothing_and_lists_the_missing_group(  # noqa: PLR0917
    environment_for: Callable[[str], loading.Environment],  # noqa: F811
    fake_helm: FakeHelm,
    fake_cloud: FakeCloud,
    kube: FakeKube,
    config_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    environment = environment_for("heat")
    use_kubeconfig(kube, config_dir, ENV)  # as a first (interrupted) deploy left it
    gpu = group(fake_cloud, GPU_GROUP)
    assert gpu is not None
    del fake_cloud.nodegroups[str(gpu["uuid"])]
    capsys.readouterr()
    calls = len(fake_cloud.mutating_calls())

    orchestrate.deploy(
        environment,
        Console(),
        dry_run=True,
        clock=fake_cloud.clock,
        connection=fake_cloud.conn,
    )

    assert len(fake_cloud.mutating_calls()) == calls
    assert fake_helm.upgrades() == []
    out = capsys.readouterr().out
    assert f"node group {GPU_GROUP} — would be created" in out
    assert "dry run: nothing was changed" in out
