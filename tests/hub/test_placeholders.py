"""Placeholders of profiles other than the default: deployed beside the chart's, kept in
step with the config, removed with the hub. kmock plays the cluster, the recording helm
the release; the pods' shape is compared with KubeSpawner's in test_user_pods.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from scripts.core.settings import Settings
from scripts.hub import placeholders
from tests.conftest import TaskRun
from tests.hub import environments
from tests.hub.conftest import running_hub, use_kubeconfig
from tests.support.fake_helm import FakeHelm
from tests.support.fakekube import FakeKube

ENV = "warm"
Run = Callable[..., TaskRun]


def warm_gpu(count: int) -> dict[str, Any]:
    config = environments.example()
    config["cluster"] = {
        "driver": "existing",
        "name": "campus",
        "kubeconfig": "",
    }
    config["hub"]["floating_ip"] = None
    gpu = next(p for p in config["hub"]["profiles"] if p["name"] == "gpu")
    gpu["placeholders"] = count
    return config


@pytest.fixture
def cluster(config_dir: Path, kube: FakeKube, fake_helm: FakeHelm) -> Path:
    environments.write(config_dir, ENV, warm_gpu(2))
    use_kubeconfig(kube, config_dir, ENV)
    running_hub(kube)
    return config_dir


def rewrite(folder: Path, config: dict[str, Any]) -> None:
    (folder / f"{ENV}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def test_the_statefulset_is_a_valid_kubernetes_object() -> None:
    (manifest,) = placeholders.wanted(Settings.model_validate(warm_gpu(2)))
    kubernetes_validate.validate(manifest, "1.32", strict=True)
    template = manifest["spec"]["template"]
    # Its pods, and only they, are selected: the chart's StatefulSet selects
    # app=jupyterhub as well (templates/_helpers.tpl jupyterhub.matchLabels), which
    # these pods do not carry.
    assert manifest["spec"]["selector"]["matchLabels"] == {
        "component": "user-placeholder",
        "release": "jhub",
        "jhub-openstack/placeholder-for": "gpu",
    }
    assert "app" not in template["metadata"]["labels"]
    assert template["spec"]["terminationGracePeriodSeconds"] == 0
    assert template["spec"]["containers"][0]["image"] == "registry.k8s.io/pause:3.10.1"


def test_deploy_creates_them_and_a_rerun_changes_nothing(
    run_task: Run, cluster: Path, kube: FakeKube
) -> None:
    first = run_task("hub.deploy", "--env", ENV, "--yes")
    assert first.code == 0, first.err
    live = kube.get("statefulsets", "user-placeholder-gpu", "jhub")
    assert live is not None
    assert live["spec"]["replicas"] == 2
    pause = live["spec"]["template"]["spec"]["containers"][0]
    # 1 GPU each; the GPU profile's 0.05 CPU and 3G = 3,000,000,000 B.
    assert pause["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pause["resources"]["requests"] == {"cpu": 0.05, "memory": 3_000_000_000}
    assert "user-placeholder-gpu created" in first.out

    kube.clear_requests()
    second = run_task("hub.deploy", "--env", ENV, "--yes")
    assert second.code == 0, second.err
    assert kube.mutating_requests() == []


def test_a_create_whose_answer_was_lost_is_not_a_failed_deploy(
    run_task: Run, cluster: Path, kube: FakeKube
) -> None:
    # The API server stores the StatefulSet, then the connection closes with no answer
    # (urllib3 does not retry a POST); the tool's retry meets 409 AlreadyExists.
    faults = kube.fail_request("POST", r"/namespaces/jhub/statefulsets$", "dropped_response")
    result = run_task("hub.deploy", "--env", ENV, "--yes")
    assert result.code == 0, result.err
    assert [(f.kind, f.applied) for f in faults.injected] == [("dropped_response", True)]
    live = kube.get("statefulsets", "user-placeholder-gpu", "jhub")
    assert live is not None and live["spec"]["replicas"] == 2


def test_a_new_count_replaces_them_and_zero_deletes_them(
    run_task: Run, cluster: Path, kube: FakeKube
) -> None:
    assert run_task("hub.deploy", "--env", ENV, "--yes").code == 0
    rewrite(cluster, warm_gpu(3))
    changed = run_task("hub.deploy", "--env", ENV, "--yes")
    assert changed.code == 0, changed.err
    live = kube.get("statefulsets", "user-placeholder-gpu", "jhub")
    assert live is not None and live["spec"]["replicas"] == 3
    assert "user-placeholder-gpu updated" in changed.out

    rewrite(cluster, warm_gpu(0))
    gone = run_task("hub.deploy", "--env", ENV, "--yes")
    assert gone.code == 0, gone.err
    assert kube.get("statefulsets", "user-placeholder-gpu", "jhub") is None
    assert "user-placeholder-gpu deleted" in gone.out


def test_a_dry_run_only_says_what_it_would_create(
    run_task: Run, cluster: Path, kube: FakeKube
) -> None:
    kube.clear_requests()
    result = run_task("hub.deploy", "--env", ENV, "--dry-run")
    assert result.code == 0, result.err
    assert "create StatefulSet jhub/user-placeholder-gpu (2 pod(s))" in result.out
    assert kube.mutating_requests() == []


def test_uninstall_removes_them_with_the_hub(
    run_task: Run, cluster: Path, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    assert run_task("hub.deploy", "--env", ENV, "--yes").code == 0
    result = run_task("hub.uninstall", "--env", ENV, "--yes", "--no-backup")
    assert result.code == 0, result.err
    assert kube.get("statefulsets", "user-placeholder-gpu", "jhub") is None


def test_plan_shows_what_they_hold_idle(
    run_task: Run, config_dir: Path, socket_disabled: None
) -> None:
    rewrite(config_dir, warm_gpu(2))
    result = run_task("plan", "--env", ENV)
    assert result.code == 0, result.err
    text = " ".join((result.out + result.err).split())
    # 2 pods × 1 GPU; 2 × 0.05 CPU; 2 × 3 GB.
    assert "profile gpu: 2 placeholder pod(s) hold 2 GPU(s), 0.1 CPU and 6 GB idle" in text
    assert "StatefulSet jhub/user-placeholder-gpu" in text
    written = (
        config_dir.parent / "build" / ENV / "manifests" / "statefulset-user-placeholder-gpu.yaml"
    )
    assert yaml.safe_load(written.read_text())["spec"]["replicas"] == 2
