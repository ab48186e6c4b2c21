"""cluster.deploy against the fake cloud, through the real openstacksdk and magnumclient."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from invoke.exceptions import Exit

from scripts.cluster import deploy, spec
from scripts.core.console import Console
from scripts.core.loading import Environment
from scripts.core.runner import procedure
from tests.cluster.conftest import ENV, EnvFactory
from tests.support.clock import FakeClock
from tests.support.fakecloud import FakeCloud

NODEGROUP_POSTS = r"/v1/clusters/[^/]+/nodegroups/?$"


def deployed(cloud: FakeCloud, environment: Environment, **options: Any) -> str | None:
    return deploy.run(environment, Console(), clock=cloud.clock, **options)


def exit_code(action: Callable[[], object]) -> int:
    """Run like a task does: expected failures become an exit code."""
    try:
        procedure(action)()
    except Exit as stop:
        return stop.code
    return 0


def posted_nodegroups(cloud: FakeCloud) -> list[str]:
    return [
        r.body["name"]
        for r in cloud.log.find("POST", NODEGROUP_POSTS)
        if r.applied and isinstance(r.body, dict)
    ]


# ------------------------------------------------------------------ from nothing


def test_deploy_from_nothing_creates_template_cluster_and_node_groups(
    cloud: FakeCloud, make_env: EnvFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    uuid = deployed(cloud, make_env())

    # Creating the extra node groups took the cluster through UPDATE_IN_PROGRESS and back.
    assert uuid is not None and cloud.clusters[uuid]["status"] == "UPDATE_COMPLETE"
    [template] = cloud.templates.values()
    assert template["name"] == "jhub-test-template"
    assert template["image_id"] == "ubuntu-jammy-kube-v1.32.4"
    assert template["flavor_id"] == "m1.large" and template["master_flavor_id"] == "m1.medium"
    assert template["master_lb_enabled"] is True and template["floating_ip_enabled"] is False
    labels = template["labels"]
    assert labels["auto_scaling_enabled"] == "true" and labels["auto_healing_enabled"] == "true"
    assert labels["monitoring_enabled"] == "false"
    assert labels["csi_cinder_reclaim_policy"] == "Retain"
    assert "kube_tag" not in labels  # capi-helm takes the version from the image

    cluster = cloud.clusters[uuid]
    assert cluster["labels"]["min_node_count"] == "1"
    assert cluster["labels"]["max_node_count"] == "5"
    assert cluster["master_count"] == 1 and cluster["cluster_template_id"] == template["uuid"]

    groups = {g["name"]: g for g in cloud.nodegroups.values() if g["cluster_id"] == uuid}
    assert set(groups) == {"default-master", "default-worker", "gpu-worker", "highmem-worker"}
    gpu = groups["gpu-worker"]
    assert gpu["role"] == "gpu" and gpu["flavor_id"] == "g1.large.a100"
    assert (gpu["min_node_count"], gpu["max_node_count"]) == (1, 2)
    # capi-helm: no node_labels/node_taints (released Magnum refuses them, the driver
    # never applies them); the GPU operator's labels tell GPU nodes apart.
    [posted] = [r.body for r in cloud.log.find("POST", NODEGROUP_POSTS) if "gpu" in r.body["name"]]
    assert "node_labels" not in posted and "node_taints" not in posted
    assert gpu["status"] == "CREATE_COMPLETE"
    assert sorted(posted_nodegroups(cloud)) == ["gpu-worker", "highmem-worker"]
    # Node groups only after the cluster was complete: never a 409 from Magnum.
    assert not [r for r in cloud.log.find("POST", NODEGROUP_POSTS) if r.status == 409]
    out = capsys.readouterr().out
    assert "cluster jhub-test ready — CREATE_COMPLETE" in out
    assert "next: invoke cluster.kubeconfig --env cloudtest" in out


def test_heat_driver_sets_the_legacy_labels_and_kubelet_taints(
    cloud: FakeCloud, make_env: EnvFactory
) -> None:
    environment = make_env(
        cluster={
            "driver": "heat",
            "image": "fedora-coreos-40",
            "image_mirror": "harbor.example.org/magnum",
            "kube_tag": "v1.27.8-rancher2",
            "autoscaler_tag": "v1.27.3",
        }
    )
    uuid = deployed(cloud, environment)
    assert uuid is not None

    [template] = cloud.templates.values()
    labels = template["labels"]
    assert labels["auto_healing_enabled"] == "true"
    assert "auto_healing_enable" not in labels  # the seed's misspelling
    assert labels["cinder_csi_enabled"] == "true"
    assert labels["cloud_provider_enabled"] == "true"
    assert labels["master_lb_floating_ip_enabled"] == "true"
    assert labels["container_infra_prefix"] == "harbor.example.org/magnum/"
    assert labels["kube_tag"] == "v1.27.8-rancher2"
    assert labels["autoscaler_tag"] == "v1.27.3"
    assert "Priority" in labels["admission_control_list"].split(",")
    assert template["volume_driver"] == "cinder"

    gpu = next(g for g in cloud.nodegroups.values() if g["name"] == "gpu-worker")
    assert gpu["labels"]["kubelet_options"] == (
        "--register-with-taints=nvidia.com/gpu=present:NoSchedule "
        "--node-labels=nvidia.com/gpu.present=true"
    )
    # merge_labels kept the cluster's labels (kube_tag ...) for the GPU nodes too.
    assert gpu["labels"]["kube_tag"] == "v1.27.8-rancher2"
    assert gpu["node_count"] == 1


def test_dry_run_from_nothing_changes_nothing(
    cloud: FakeCloud, make_env: EnvFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deployed(cloud, make_env(), dry_run=True) is None

    assert cloud.mutating_calls() == []
    assert not cloud.clusters and not cloud.templates
    out = capsys.readouterr().out
    assert "would create cluster template jhub-test-template" in out
    assert "would create cluster jhub-test" in out
    assert "would create node group gpu-worker" in out


# ------------------------------------------------------------------ again


def test_deploy_again_through_invoke_makes_no_change(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    deployed(cloud, make_env())
    before = len(cloud.mutating_calls())

    result = run_task("cluster.deploy", "--env", ENV)

    assert result.code == 0, result.err
    assert len(cloud.mutating_calls()) == before
    assert "– " in result.out and "exists and matches the config" in result.out
    assert "node group gpu-worker — 1 node(s), 1..2" in result.out
    assert "s: 6 unchanged\n" in result.out  # and nothing done


def test_gpu_node_group_is_created_exactly_once_across_runs(
    cloud: FakeCloud, make_env: EnvFactory
) -> None:
    environment = make_env()
    for _ in range(3):
        deployed(cloud, environment)

    assert posted_nodegroups(cloud).count("gpu-worker") == 1
    assert len([g for g in cloud.nodegroups.values() if g["name"] == "gpu-worker"]) == 1
    assert cloud.count("POST", r"/v1/clusters$") == 1


def test_changed_worker_bounds_are_applied_in_place_on_heat(
    cloud: FakeCloud, make_env: EnvFactory
) -> None:
    uuid = deployed(cloud, make_env(cluster={"driver": "heat"}))
    cloud.settle_all()
    earlier = len(cloud.log.find("PATCH", r"/nodegroups/"))

    deployed(cloud, make_env(cluster={"driver": "heat", "max_workers": 9}))

    [patch] = cloud.log.find("PATCH", r"/nodegroups/")[earlier:]
    assert patch.body == [{"op": "replace", "path": "/max_node_count", "value": 9}]
    default = next(
        g
        for g in cloud.nodegroups.values()
        if g["cluster_id"] == uuid and g["is_default"] and g["role"] == "worker"
    )
    assert default["max_node_count"] == 9
    cloud.settle_all()
    before = len(cloud.mutating_calls())
    deployed(cloud, make_env(cluster={"driver": "heat", "max_workers": 9}))
    assert len(cloud.mutating_calls()) == before


def test_changed_worker_bounds_on_capi_helm_are_refused_with_the_real_remedy(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    """The cluster labels min/max_node_count (1..5) decide; a PATCH would change nothing."""
    uuid = deployed(cloud, make_env())
    cloud.settle_all()
    before = len(cloud.mutating_calls())
    make_env(cluster={"max_workers": 9})

    result = run_task("cluster.deploy", "--env", ENV)

    assert result.code == 1
    assert "the default workers scale 1..5, set by the cluster labels" in result.err
    assert "config asks for 1..9" in result.err
    assert "cluster.node_groups" in result.err and "cluster.delete --yes" in result.err
    assert cloud.log.find("PATCH", r"/nodegroups/") == []
    assert len(cloud.mutating_calls()) == before
    assert uuid is not None
    assert cloud.clusters[uuid]["labels"]["max_node_count"] == "5"


# ------------------------------------------------------------------ refusals


def test_changed_flavor_is_refused_with_remedy_and_no_change(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    deployed(cloud, make_env())
    before = len(cloud.mutating_calls())
    make_env(cluster={"worker_flavor": "m1.xlarge"})

    result = run_task("cluster.deploy", "--env", ENV)

    assert result.code == 1
    assert len(cloud.mutating_calls()) == before
    assert len(cloud.clusters) == 1
    assert "cluster.worker_flavor: 'm1.large' in the cloud, 'm1.xlarge' in config" in result.err
    assert "invoke cluster.delete --yes --env cloudtest" in result.err
    assert "Traceback" not in result.err


def test_changed_master_count_and_gpu_flavor_are_all_reported(
    cloud: FakeCloud, make_env: EnvFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed(cloud, make_env())
    cloud.settle_all()
    before = len(cloud.mutating_calls())
    changed = make_env(cluster={"master_count": 3, "gpu": {"flavor": "m1.xlarge"}})

    code = exit_code(lambda: deployed(cloud, changed))

    assert code == 1
    assert len(cloud.mutating_calls()) == before
    err = capsys.readouterr().err
    assert "cluster.master_count: 1 in the cloud, 3 in config" in err
    assert "node group gpu-worker flavor: 'g1.large.a100' in the cloud, 'm1.xlarge'" in err


def test_changed_template_labels_are_refused(
    cloud: FakeCloud, make_env: EnvFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed(cloud, make_env())
    before = len(cloud.mutating_calls())
    changed = make_env(cluster={"extra_labels": {"octavia_provider": "ovn"}})

    assert exit_code(lambda: deployed(cloud, changed)) == 1
    assert len(cloud.mutating_calls()) == before
    err = capsys.readouterr().err
    assert "octavia_provider" in err and "give cluster.template a new name" in err


def test_two_clusters_with_the_name_are_refused(
    cloud: FakeCloud, make_env: EnvFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.add_cluster("jhub-test")
    cloud.add_cluster("jhub-test")

    assert exit_code(lambda: deployed(cloud, make_env())) == 1
    assert cloud.mutating_calls() == []
    assert "2 clusters named 'jhub-test' exist" in capsys.readouterr().err


def test_failed_creation_shows_magnum_reason_and_exits_1(
    cloud: FakeCloud, make_env: EnvFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.fail_next("cluster", "Quota exceeded for instances: Requested 2, but already used 9")

    assert exit_code(lambda: deployed(cloud, make_env())) == 1

    err = capsys.readouterr().err
    assert "cluster jhub-test CREATE_FAILED: Quota exceeded for instances" in err
    assert "node group default-worker CREATE_FAILED: Quota exceeded" in err
    assert "invoke cluster.delete --yes --env cloudtest" in err
    assert cloud.count("POST", NODEGROUP_POSTS) == 0
    # It stopped at once instead of waiting out the hour.
    assert sum(cloud.clock.sleeps) < 60


def test_failed_node_group_shows_its_reason(
    cloud: FakeCloud, make_env: EnvFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.fail_next("nodegroup", "No valid host was found: PCI device a100", name="gpu-worker")

    assert exit_code(lambda: deployed(cloud, make_env())) == 1
    err = capsys.readouterr().err
    assert "node group gpu-worker is CREATE_FAILED: No valid host was found" in err


def test_a_failed_node_group_leaves_the_cluster_update_failed_and_recoverable(
    cloud: FakeCloud,
    make_env: EnvFactory,
    capsys: pytest.CaptureFixture[str],
    run_task: Callable[..., Any],
) -> None:
    """Magnum's nodegroup conductor sets the group CREATE_FAILED and the cluster
    UPDATE_FAILED, and still takes node-group operations there: a re-run names the group
    and its reason, and never sends the operator to delete the cluster."""
    environment = make_env()
    cloud.fail_next("nodegroup", "No valid host was found: PCI device a100", name="gpu-worker")
    assert exit_code(lambda: deployed(cloud, environment)) == 1
    (record,) = cloud.clusters.values()
    assert record["status"] == "UPDATE_FAILED"
    capsys.readouterr()

    assert exit_code(lambda: deployed(cloud, environment)) == 1

    err = capsys.readouterr().err
    assert "node group gpu-worker is CREATE_FAILED: No valid host was found" in err
    assert "cluster.delete" not in err
    assert f"openstack coe nodegroup delete {record['uuid']} gpu-worker" in err
    # The control plane is untouched: the kubeconfig can still be made.
    made = run_task("cluster.kubeconfig", "--env", ENV)
    assert made.code == 0, made.err


def test_each_node_group_call_waits_for_the_cluster_to_leave_update_in_progress(
    cloud: FakeCloud, make_env: EnvFactory
) -> None:
    """A node-group create moves the cluster to UPDATE_IN_PROGRESS; the next node-group
    call goes only after the tool has read the cluster settled again."""
    deployed(cloud, make_env())

    paths = [(r.method, r.path) for r in cloud.log if r.service == "magnum"]
    posts = [
        i for i, (method, path) in enumerate(paths) if method == "POST" and "nodegroups" in path
    ]
    assert len(posts) == 2
    between = paths[posts[0] + 1 : posts[1]]
    assert any(
        method == "GET" and path.rstrip("/").count("/") == 3 and "/clusters/" in path
        for method, path in between
    )
    (record,) = cloud.clusters.values()
    assert record["status"] == "UPDATE_COMPLETE"


def test_existing_driver_makes_no_openstack_call(
    cloud: FakeCloud, make_env: EnvFactory, config_dir: Path, run_task: Callable[..., Any]
) -> None:
    make_env(cluster={"driver": "existing"})

    missing = run_task("cluster.deploy", "--env", ENV)
    (config_dir / f"{ENV}.kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
    present = run_task("cluster.deploy", "--env", ENV)

    assert missing.code == 2
    assert "cluster.kubeconfig:" in missing.err and "does not exist" in missing.err
    assert present.code == 0 and "no OpenStack calls" in present.out
    assert list(cloud.log) == []


def test_unknown_cloud_entry_is_bad_input_without_requests(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    make_env(cloud="nosuchcloud")

    result = run_task("cluster.deploy", "--env", ENV)

    assert result.code == 2
    assert "cloud: 'nosuchcloud'" in result.err and "entries found: fake" in result.err
    assert list(cloud.log) == []


# ------------------------------------------------------------------ resuming


def _ctrl_c(_: float) -> None:
    raise KeyboardInterrupt


def InterruptingClock() -> FakeClock:
    """Ctrl-C during the first wait, as an operator would after the create call."""
    return FakeClock(on_sleep=_ctrl_c)


def test_run_interrupted_after_create_resumes_without_duplicate(
    cloud: FakeCloud, make_env: EnvFactory
) -> None:
    environment = make_env()
    with pytest.raises(KeyboardInterrupt):
        deploy.run(environment, Console(), clock=InterruptingClock())
    assert cloud.count("POST", r"/v1/clusters$") == 1

    uuid = deployed(cloud, environment)

    assert cloud.count("POST", r"/v1/clusters$") == 1
    assert uuid is not None and list(cloud.clusters) == [uuid]
    assert cloud.clusters[uuid]["status"] == "UPDATE_COMPLETE"  # node groups were added after it
    assert sorted(posted_nodegroups(cloud)) == ["gpu-worker", "highmem-worker"]


def test_create_that_timed_out_after_magnum_accepted_it_is_not_repeated(
    cloud: FakeCloud, make_env: EnvFactory
) -> None:
    cloud.fail_request("POST", r"/v1/clusters$", "read_timeout", applied=True)
    cloud.fail_request("POST", NODEGROUP_POSTS, "read_timeout", applied=True)

    deployed(cloud, make_env())

    assert len(cloud.clusters) == 1
    assert cloud.count("POST", r"/v1/clusters$") == 1
    assert len([g for g in cloud.nodegroups.values() if g["role"] != "master"]) == 3


def test_twenty_percent_faults_over_fifty_seeded_runs_never_duplicate(
    make_env: EnvFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = make_env()
    kinds: list[str] = []
    trapped: list[str] = []
    for seed in range(50):
        with FakeCloud() as cloud:
            cloud.clouds_yaml(tmp_path, monkeypatch)
            # Half the read timeouts on a POST happen after Magnum acted on it.
            cloud.inject_faults(0.2, seed=seed, timeout_applied=None)
            if seed % 10 == 0:
                # And, whatever the seeded sequence, the trap itself: the cluster's and a
                # node group's create applied, their answers lost.
                cloud.fail_request("POST", r"/v1/clusters$", "read_timeout", applied=True)
                cloud.fail_request("POST", r"/nodegroups/?$", "read_timeout", applied=True)
            uuid = deployed(cloud, environment)
            deployed(cloud, environment)

            where = f"seed {seed}"
            assert uuid is not None and list(cloud.clusters) == [uuid], where
            assert cloud.clusters[uuid]["status"] == "UPDATE_COMPLETE", where
            assert len(cloud.templates) == 1, where
            names = sorted(g["name"] for g in cloud.nodegroups.values())
            assert names == ["default-master", "default-worker", "gpu-worker", "highmem-worker"], (
                where
            )
            kinds += [str(r.fault) for r in cloud.injected_faults]
            trapped += [
                r.path
                for r in cloud.injected_faults
                if r.method == "POST" and r.fault == "read_timeout" and r.applied
            ]
    # The runs really were faulty, with every kind, including timeouts after a POST took effect.
    assert len(kinds) > 300
    assert set(kinds) == {"500", "502", "503", "connect_timeout", "read_timeout"}
    # Ten from the targeted rules; the random ones add more or none, by request sequence.
    assert len(trapped) >= 10, trapped


def test_spec_lists_what_capi_helm_ignores(make_env: EnvFactory) -> None:
    environment = make_env(cluster={"kube_tag": "v1.30.0", "image_mirror": "harbor.example.org"})
    ignored = spec.ignored_settings(environment.settings.cluster)
    assert [line.split(" ", 1)[0] for line in ignored] == [
        "cluster.kube_tag",
        "cluster.image_mirror",
    ]
