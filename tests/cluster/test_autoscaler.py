"""cluster.autoscaler and autoscaler-logs: kmock for the Heat path, the fake cloud for capi-helm."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scripts.cluster import deploy
from scripts.cluster.autoscaler import ensure_limits, node_limits, with_limits
from scripts.core.changes import Changes
from scripts.core.console import Console
from scripts.core.waiting import using
from tests.cluster.conftest import ENV, EnvFactory
from tests.cluster.objects import MAGNUM_COMMAND, autoscaler
from tests.support.fakecloud import FakeClock, FakeCloud
from tests.support.fakekube import FakeKube

PATH = "/apis/apps/v1/namespaces/kube-system/deployments/cluster-autoscaler"


def command_of(kube: FakeKube, field: str = "command") -> list[str]:
    found = kube.get("deployments", "cluster-autoscaler", "kube-system")
    assert found is not None
    return list(found["spec"]["template"]["spec"]["containers"][0][field])


def patches(kube: FakeKube) -> list[Any]:
    return [r for r in kube.mutating_requests() if r.path == PATH]


@pytest.fixture
def existing_env(make_env: EnvFactory, kube: FakeKube, config_dir: Path) -> None:
    """Driver 'existing' (Heat-style autoscaler in the cluster), kubeconfig to the emulator."""
    make_env(cluster={"driver": "existing"})
    shutil.copy(kube.kubeconfig_path, config_dir / f"{ENV}.kubeconfig")


# ------------------------------------------------------------------ the flags


def test_new_group_goes_after_the_last_nodes_flag_and_nothing_else_moves() -> None:
    assert with_limits(MAGNUM_COMMAND, {"gpu-worker": (0, 4)}) == [
        "./cluster-autoscaler",
        "--cloud-provider=magnum",
        "--cloud-config=/config/cloud-config",
        "--nodes=1:5:default-worker",
        "--nodes=0:4:gpu-worker",
        "--scale-down-unneeded-time=10m",
        "--v=2",
    ]


def test_existing_group_is_replaced_in_place_and_duplicates_go() -> None:
    command = [*MAGNUM_COMMAND[:4], "--nodes=1:2:gpu-worker", "--v=2", "--nodes=1:3:gpu-worker"]
    assert with_limits(command, {"gpu-worker": (0, 4)}) == [
        *MAGNUM_COMMAND[:4],
        "--nodes=0:4:gpu-worker",
        "--v=2",
    ]


def test_the_two_item_spelling_is_understood() -> None:
    command = ["./cluster-autoscaler", "--nodes", "1:5:default-worker", "--v=2"]
    assert with_limits(command, {"default-worker": (2, 8)}) == [
        "./cluster-autoscaler",
        "--nodes=2:8:default-worker",
        "--v=2",
    ]
    assert with_limits(["./cluster-autoscaler"], {"a": (0, 1)}) == [
        "./cluster-autoscaler",
        "--nodes=0:1:a",
    ]


def test_limits_are_read_back() -> None:
    command = [*MAGNUM_COMMAND, "--nodes=0:4:gpu-worker"]
    assert node_limits(autoscaler(command)) == {"default-worker": (1, 5), "gpu-worker": (0, 4)}


# ------------------------------------------------------------------ against kmock


def test_adds_a_group_with_a_guarded_json_patch(kube: FakeKube) -> None:
    kube.create(autoscaler(MAGNUM_COMMAND))
    ui = Console()

    assert ensure_limits(kube.api_client, {"gpu-worker": (0, 4)}, ui, Changes(ui)) is True

    assert command_of(kube) == with_limits(MAGNUM_COMMAND, {"gpu-worker": (0, 4)})
    [patch] = patches(kube)
    assert patch.method == "PATCH" and patch.content_type == "application/json-patch+json"
    test, replace = patch.body
    assert test == {
        "op": "test",
        "path": "/spec/template/spec/containers/0/command",
        "value": MAGNUM_COMMAND,
    }
    assert replace["op"] == "replace" and replace["path"] == test["path"]


def test_replaces_a_group_and_keeps_other_args(kube: FakeKube) -> None:
    kube.create(autoscaler([*MAGNUM_COMMAND, "--nodes=1:1:gpu-worker"]))
    ui = Console()

    ensure_limits(
        kube.api_client, {"gpu-worker": (0, 3), "default-worker": (1, 9)}, ui, Changes(ui)
    )

    command = command_of(kube)
    assert [c for c in command if c.startswith("--nodes")] == [
        "--nodes=1:9:default-worker",
        "--nodes=0:3:gpu-worker",
    ]
    assert [c for c in command if not c.startswith("--nodes")] == [
        c for c in MAGNUM_COMMAND if not c.startswith("--nodes")
    ]


def test_flags_in_args_are_patched_there(kube: FakeKube) -> None:
    kube.create(autoscaler(MAGNUM_COMMAND[1:], field="args"))
    ui = Console()

    ensure_limits(kube.api_client, {"gpu-worker": (0, 2)}, ui, Changes(ui))

    assert "--nodes=0:2:gpu-worker" in command_of(kube, "args")


def test_second_run_and_dry_run_send_no_patch(
    kube: FakeKube, capsys: pytest.CaptureFixture[str]
) -> None:
    kube.create(autoscaler(MAGNUM_COMMAND))
    ui = Console()

    assert ensure_limits(kube.api_client, {"gpu-worker": (0, 4)}, ui, Changes(ui, dry_run=True))
    assert patches(kube) == [] and command_of(kube) == MAGNUM_COMMAND
    assert "would patch kube-system/cluster-autoscaler command: --nodes=0:4:gpu-worker" in (
        capsys.readouterr().out
    )

    ensure_limits(kube.api_client, {"gpu-worker": (0, 4)}, ui, Changes(ui))
    assert not ensure_limits(kube.api_client, {"gpu-worker": (0, 4)}, ui, Changes(ui))
    assert len(patches(kube)) == 1


@pytest.mark.parametrize("kind", ["dropped_response", "504"])
def test_a_patch_whose_answer_was_lost_is_not_taken_for_a_concurrent_edit(
    kube: FakeKube, kind: str
) -> None:
    # The API server applies the guarded patch, then the answer is lost; the retry's `test`
    # op fails (422) because the command is already ours, which is success, not a conflict.
    kube.create(autoscaler(MAGNUM_COMMAND))
    faults = kube.fail_request("PATCH", PATH, kind)
    ui = Console()
    clock = FakeClock()

    with using(clock):
        assert ensure_limits(kube.api_client, {"gpu-worker": (0, 4)}, ui, Changes(ui)) is True

    assert [(f.kind, f.applied) for f in faults.injected] == [(kind, True)]
    assert len(patches(kube)) == 2
    # The new group after the last --nodes flag, once.
    assert command_of(kube) == [
        *MAGNUM_COMMAND[:4],
        "--nodes=0:4:gpu-worker",
        *MAGNUM_COMMAND[4:],
    ]
    assert clock.sleeps


def test_a_concurrent_edit_fails_instead_of_being_overwritten(
    kube: FakeKube, existing_env: None, run_task: Callable[..., Any]
) -> None:
    stale = kube.create(autoscaler(MAGNUM_COMMAND))
    # Someone edits the deployment after we read it: our GET still sees the old command.
    edited = [*MAGNUM_COMMAND[:3], "--nodes=1:7:default-worker"]
    kube.patch(
        "deployments",
        "cluster-autoscaler",
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "cluster-autoscaler", "image": "ca:v1.27.3", "command": edited}
                        ]
                    }
                }
            }
        },
        namespace="kube-system",
    )
    kube.emulator[f"get {PATH}"] << copy.deepcopy(stale)

    result = run_task(
        "cluster.autoscaler", "--env", ENV, "--nodegroup", "gpu-worker", "--min", "0", "--max", "4"
    )

    assert result.code == 1
    assert "changed by someone else while patching; nothing was overwritten" in result.err
    assert command_of(kube) == edited


# ------------------------------------------------------------------ the task


def test_task_patches_an_existing_cluster(
    kube: FakeKube, existing_env: None, run_task: Callable[..., Any]
) -> None:
    kube.create(autoscaler(MAGNUM_COMMAND))
    argv = ["cluster.autoscaler", "--env", ENV, "--nodegroup", "gpu-worker", "--min", "0"]

    first = run_task(*argv, "--max", "4")
    again = run_task(*argv, "--max", "4")

    assert first.code == 0, first.err
    assert "gpu-worker: not scaled → 0..4" in first.out
    assert again.code == 0 and "already --nodes=0:4:gpu-worker" in again.out
    assert len(patches(kube)) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--nodegroup", "gpu-worker", "--min", "5", "--max", "2"], "option --min: 5 exceeds"),
        (["--nodegroup", "GPU_worker", "--min", "0", "--max", "2"], "option --nodegroup:"),
        (["--nodegroup", "gpu-worker", "--min", "0", "--max", "0"], "option --max: 0 is below 1"),
        (["--min", "0", "--max", "2"], "option --nodegroup: required"),
        (["--nodegroup", "gpu-worker", "--max", "2"], "option --min: required"),
    ],
)
def test_bad_options_are_refused_before_any_request(
    kube: FakeKube,
    existing_env: None,
    run_task: Callable[..., Any],
    argv: list[str],
    message: str,
) -> None:
    kube.create(autoscaler(MAGNUM_COMMAND))
    kube.clear_requests()

    result = run_task("cluster.autoscaler", "--env", ENV, *argv)

    assert result.code == 2
    assert message in result.err
    assert kube.requests == []


def test_heat_refuses_a_node_group_magnum_does_not_have(
    cloud: FakeCloud,
    kube: FakeKube,
    make_env: EnvFactory,
    config_dir: Path,
    run_task: Callable[..., Any],
) -> None:
    environment = make_env(cluster={"driver": "heat"})
    deploy.run(environment, Console(), clock=cloud.clock)
    shutil.copy(kube.kubeconfig_path, config_dir / f"{ENV}.kubeconfig")
    kube.create(autoscaler(MAGNUM_COMMAND))
    argv = ["cluster.autoscaler", "--env", ENV, "--min", "0", "--max", "3", "--nodegroup"]

    unknown = run_task(*argv, "gpu-workers")
    known = run_task(*argv, "gpu-worker")

    assert unknown.code == 2
    assert "'gpu-workers' is not a node group of jhub-test" in unknown.err
    assert "gpu-worker" in unknown.err.split("allowed:")[1]
    assert known.code == 0, known.err
    assert "--nodes=0:3:gpu-worker" in command_of(kube)


def test_capi_helm_changes_the_node_group_through_magnum(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    deploy.run(make_env(), Console(), clock=cloud.clock)
    cloud.settle_all()
    argv = ["cluster.autoscaler", "--env", ENV, "--nodegroup", "gpu-worker", "--min", "1"]

    planned = run_task(*argv, "--max", "4", "--dry-run")
    assert planned.code == 0 and cloud.count("PATCH", "/nodegroups/") == 0

    changed = run_task(*argv, "--max", "4")
    cloud.settle_all()
    again = run_task(*argv, "--max", "4")

    assert changed.code == 0, changed.err
    [patch] = cloud.log.find("PATCH", "/nodegroups/gpu-worker")
    assert patch.body == [{"op": "replace", "path": "/max_node_count", "value": 4}]
    gpu = next(g for g in cloud.nodegroups.values() if g["name"] == "gpu-worker")
    assert (gpu["min_node_count"], gpu["max_node_count"]) == (1, 4)
    assert again.code == 0 and "already 1..4" in again.out
    assert cloud.count("PATCH", "/nodegroups/") == 1


def test_capi_helm_refuses_min_zero_before_any_call(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    """magnum-capi-helm driver.py _validate_allowed_node_counts refuses min < 1."""
    make_env()
    result = run_task(
        "cluster.autoscaler", "--env", ENV, "--nodegroup", "gpu-worker", "--min", "0", "--max", "4"
    )

    assert result.code == 2
    assert "option --min" in result.err and "1 or more" in result.err
    assert [r for r in cloud.log if not r.is_auth] == []


def test_capi_helm_default_workers_follow_the_cluster_labels_not_the_node_group(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    """On capi-helm the labels min/max_node_count (1..5 here) decide the default workers."""
    deploy.run(make_env(), Console(), clock=cloud.clock)
    cloud.settle_all()
    before = len(cloud.mutating_calls())
    argv = ["cluster.autoscaler", "--env", ENV, "--nodegroup", "default-worker"]

    changed = run_task(*argv, "--min", "1", "--max", "9")
    same = run_task(*argv, "--min", "1", "--max", "5")

    assert changed.code == 1
    assert "cluster labels min_node_count/max_node_count" in changed.err
    assert "Magnum cannot change a cluster's labels" in changed.err
    assert "recreate the cluster" in changed.err
    assert same.code == 0 and "already 1..5" in same.out
    assert len(cloud.mutating_calls()) == before


def test_capi_helm_bounds_that_exclude_the_node_count_are_refused_with_the_resize(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    deploy.run(make_env(), Console(), clock=cloud.clock)
    before = len(cloud.mutating_calls())

    result = run_task(
        "cluster.autoscaler", "--env", ENV, "--nodegroup", "gpu-worker", "--min", "2", "--max", "4"
    )

    assert result.code == 1
    assert "gpu-worker has 1 node(s), outside 2..4" in result.err
    assert "openstack coe cluster resize jhub-test --nodegroup gpu-worker 2" in result.err
    assert len(cloud.mutating_calls()) == before


# ------------------------------------------------------------------ logs


def test_logs_of_the_newest_autoscaler_pod(
    kube: FakeKube, existing_env: None, run_task: Callable[..., Any]
) -> None:
    kube.create(autoscaler(MAGNUM_COMMAND))
    for name, created in (("cluster-autoscaler-old", "1"), ("cluster-autoscaler-new", "2")):
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name,
                    "namespace": "kube-system",
                    "labels": {"app": "cluster-autoscaler"},
                    "creationTimestamp": f"2026-01-0{created}T00:00:00Z",
                },
                "spec": {"containers": [{"name": "cluster-autoscaler", "image": "ca"}]},
            }
        )
    kube.set_pod_log("kube-system", "cluster-autoscaler-old", "stale line\n")
    kube.set_pod_log(
        "kube-system",
        "cluster-autoscaler-new",
        'I0101 scale_up.go:472] Best option to resize: gpu-worker\n{"level": "info"}\n',
    )

    result = run_task("cluster.autoscaler-logs", "--env", ENV)

    assert result.code == 0, result.err
    assert "Best option to resize: gpu-worker" in result.out
    assert '{"level": "info"}' in result.out
    assert "stale line" not in result.out


def test_logs_refused_on_capi_helm(make_env: EnvFactory, run_task: Callable[..., Any]) -> None:
    make_env()
    result = run_task("cluster.autoscaler-logs", "--env", ENV)
    assert result.code == 2 and "management cluster" in result.err
