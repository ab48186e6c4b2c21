"""hub.capacity: every number below is worked out by hand in the comments.

Units: the planner counts CPU in millicores and memory in bytes. Per node it keeps
RESERVED = 500m CPU and 1 GiB (SYSTEM 200m / 512 MiB + ADD_ONS 300m / 512 MiB) from a
flavor, and only ADD_ONS (300m / 512 MiB) from a node's allocatable.
1 MiB = 1,048,576 B; 1 GiB = 1,073,741,824 B; "1.8G" = 1,800,000,000 B.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.core.console import Console
from scripts.core.loading import load
from scripts.hub import capacity, capacity_run
from scripts.hub.capacity import NodeShape, ProfileNeeds, Resources
from tests.conftest import ROOT, TaskRun
from tests.support.fakecloud import FakeCloud
from tests.support.fakekube import FakeKube

ENV = "plan"
Run = Callable[..., TaskRun]
EXAMPLE: dict[str, Any] = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())


def write(config_dir: Path, config: dict[str, Any]) -> None:
    (config_dir / f"{ENV}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def on_fake_flavors() -> dict[str, Any]:
    """The example with the fake cloud's flavors:
    default-worker m1.large (4 vCPUs, 8192 MiB), highmem-worker m1.xlarge (8, 16384),
    gpu-worker g1.large.a100 (16, 65536, extra specs a100:1 / PGPU 1).
    Enabled profiles: default (0.05 CPU, 1.8G), large (0.05 CPU / limit 8, 7.5G),
    gpu (0.05 CPU / limit 2, 3G, 1 GPU); vdi is disabled."""
    config = copy.deepcopy(EXAMPLE)
    config["cloud"] = "fake"
    config["cluster"]["worker_flavor"] = "m1.large"
    config["cluster"]["node_groups"][0]["flavor"] = "m1.xlarge"
    config["cluster"]["gpu"]["flavor"] = "g1.large.a100"
    return config


@pytest.fixture
def cloud(fake_cloud: FakeCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCloud:
    fake_cloud.clouds_yaml(tmp_path, monkeypatch)
    return fake_cloud


def fits(plan: capacity.Plan) -> dict[tuple[str, str], tuple[int, str, int | None]]:
    return {
        (fit.profile, fit.group): (fit.users_per_node, fit.bound_by, fit.nodes_needed)
        for fit in plan.fits
    }


# ------------------------------------------------------------------ from OpenStack flavors


def test_users_per_node_placeholders_and_nodes_for_sixty_users(
    config_dir: Path, cloud: FakeCloud
) -> None:
    write(config_dir, on_fake_flavors())

    plan = capacity_run.run(load(ENV, require_secrets=False), Console(), users=60, ready_per=10)

    # Placeholders: ⌈60 / 10⌉ = 6.
    assert plan.placeholders == 6
    assert fits(plan) == {
        # default-worker room: 4000m − 500m = 3500m; 8192 MiB − 1024 MiB = 7168 MiB
        #   = 7,516,192,768 B.
        # default: CPU 3500 // 50 = 70; memory 7,516,192,768 // 1,800,000,000 = 4 → 4 (memory).
        # Nodes for 60 users and 6 placeholders: ⌈66 / 4⌉ = 17.
        ("default", "default-worker"): (4, "memory", 17),
        # highmem-worker room: 8000m − 500m = 7500m; 16384 − 1024 = 15360 MiB
        #   = 16,106,127,360 B → 16,106,127,360 // 1,800,000,000 = 8; ⌈66 / 8⌉ = 9.
        ("default", "highmem-worker"): (8, "memory", 9),
        # large (7.5G = 7,500,000,000 B): 7,516,192,768 // 7.5e9 = 1; ⌈60 / 1⌉ = 60.
        ("large", "default-worker"): (1, "memory", 60),
        # 16,106,127,360 // 7.5e9 = 2; ⌈60 / 2⌉ = 30.
        ("large", "highmem-worker"): (2, "memory", 30),
        # gpu-worker room: 16000m − 500m = 15500m; 65536 − 1024 = 64512 MiB
        #   = 67,645,734,912 B. gpu (3G): CPU 15500 // 50 = 310, memory
        #   67,645,734,912 // 3e9 = 22, GPUs 1 // 1 = 1 → 1 (gpu); ⌈60 / 1⌉ = 60.
        ("gpu", "gpu-worker"): (1, "gpu", 60),
    }


def test_bounds_too_small_for_the_target_and_limits_above_the_room_are_warned(
    config_dir: Path, cloud: FakeCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    write(config_dir, on_fake_flavors())

    plan = capacity_run.run(load(ENV, require_secrets=False), Console(), users=60, ready_per=10)

    # Example bounds: max_workers 8, highmem max_nodes 2, gpu max_nodes 2.
    assert (
        "60 users of profile default on default-worker need 17 nodes; cluster.max_workers is 8"
        in plan.warnings
    )
    assert (
        "60 users of profile gpu on gpu-worker need 60 nodes; cluster.gpu.max_nodes is 2"
        in plan.warnings
    )
    # large's CPU limit 8 is above 3.5 (default-worker) and 7.5 (highmem-worker) CPUs.
    assert (
        "profile large on default-worker: its CPU limit 8 is above the 3.5 a node has for "
        "users; it can never use all of it" in plan.warnings
    )
    assert any(
        w.startswith("profile large on highmem-worker: its CPU limit 8") for w in plan.warnings
    )
    # The default profile's limits (2 CPUs, 1.8G) fit both node groups: no such warning.
    assert not any(w.startswith("profile default on") for w in plan.warnings)
    err = capsys.readouterr().err
    assert "cluster.max_workers is 8" in err


def test_a_profile_that_fits_no_node_is_warned_as_never_starting(
    config_dir: Path, cloud: FakeCloud
) -> None:
    config = on_fake_flavors()
    # m1.small: 1 vCPU, 2048 MiB → room 500m and 1024 MiB = 1,073,741,824 B, below the
    # default profile's 1.8G guarantee: 1,073,741,824 // 1,800,000,000 = 0 users.
    config["cluster"]["worker_flavor"] = "m1.small"
    config["cluster"]["node_groups"] = []
    config["cluster"]["gpu"]["enabled"] = False
    config["hub"]["profiles"] = [p for p in config["hub"]["profiles"] if p["name"] == "default"]
    write(config_dir, config)

    plan = capacity_run.run(load(ENV, require_secrets=False), Console(), users=10)

    assert fits(plan) == {("default", "default-worker"): (0, "memory", None)}
    assert (
        "profile default never fits a default-worker node: its memory guarantee 1.68 GiB is "
        "above the 1.00 GiB a node has for users" in plan.warnings
    )
    assert "profile default fits no node group (see above): it can never start" in plan.warnings


def test_a_gpu_flavor_without_gpu_extra_specs_is_counted_as_one_and_said_so(
    config_dir: Path, cloud: FakeCloud
) -> None:
    config = on_fake_flavors()
    config["cluster"]["gpu"]["flavor"] = "m1.xlarge"
    write(config_dir, config)

    plan = capacity_run.run(load(ENV, require_secrets=False), Console())

    assert plan.warnings[0].startswith("flavor m1.xlarge (cluster.gpu.flavor) names no GPU")
    # gpu on m1.xlarge: room 7500m, 16,106,127,360 B; CPU 150, memory // 3e9 = 5, GPUs 1 → 1.
    # Without --users: the users a full group holds, 1 × max_nodes 2 = 2.
    (gpu,) = [fit for fit in plan.fits if fit.profile == "gpu"]
    assert (gpu.users_per_node, gpu.bound_by, gpu.nodes_needed, gpu.users_at_max) == (
        1,
        "gpu",
        None,
        2,
    )
    assert plan.placeholders is None


def test_the_report_lines(config_dir: Path, cloud: FakeCloud, run_task: Run) -> None:
    write(config_dir, on_fake_flavors())

    result = run_task("hub.capacity", "--env", ENV, "--users", "60", "--ready-per", "10")

    assert result.code == 0, result.err
    out = " ".join(result.out.split())
    # 3500m = 3.5 CPUs; 7,516,192,768 B / 1,073,741,824 = 7.00 GiB.
    assert (
        "default-worker: 3.5 CPUs, 7.00 GiB, 0 GPU(s), up to 8 nodes (flavor m1.large: "
        "4 vCPUs, 8192 MiB, 0 GPU(s))" in out
    )
    assert "gpu-worker: 15.5 CPUs, 63.00 GiB, 1 GPU(s), up to 2 nodes, GPU profiles only" in out
    assert "default on default-worker: 4 (by memory); 60 users need max_node_count 17" in out
    assert "Placeholders: 6 keep one default-profile server ready per 10 of 60" in out
    assert "configured: hub.placeholders.replicas 4" in out
    assert "Traceback" not in result.err


def test_a_flavor_the_cloud_does_not_have_names_the_key(
    config_dir: Path, cloud: FakeCloud, run_task: Run
) -> None:
    config = on_fake_flavors()
    config["cluster"]["node_groups"][0]["flavor"] = "m9.huge"
    write(config_dir, config)

    result = run_task("hub.capacity", "--env", ENV)

    assert result.code == 1
    assert "flavor 'm9.huge' (cluster.node_groups[0].flavor) does not exist" in result.err
    assert cloud.mutating_calls() == []


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--users", "-1", "option --users: -1 is not allowed; use 0 (no target) to 100000"),
        ("--ready-per", "0", "option --ready-per: 0 is not allowed; use 1 or more"),
    ],
)
def test_bad_options_exit_2_before_any_call(  # noqa: PLR0917 - pytest parametrizes by name
    config_dir: Path, cloud: FakeCloud, run_task: Run, option: str, value: str, message: str
) -> None:
    write(config_dir, on_fake_flavors())

    result = run_task("hub.capacity", "--env", ENV, option, value)

    assert result.code == 2
    assert message in result.err
    assert len(cloud.log) == 0


# ------------------------------------------------------------------ from node allocatable


def node(name: str, cpu: str, memory: str, **extra: Any) -> dict[str, Any]:
    labels = extra.get("labels", {})
    allocatable = {"cpu": cpu, "memory": memory, **extra.get("allocatable", {})}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": extra.get("taints", [])},
        "status": {"allocatable": allocatable},
    }


def test_an_existing_cluster_is_sized_from_its_nodes_allocatable(
    config_dir: Path, kube: FakeKube
) -> None:
    config = copy.deepcopy(EXAMPLE)
    config["cluster"] = {
        "driver": "existing",
        "name": "campus",
        "kubeconfig": str(kube.kubeconfig_path),
    }
    write(config_dir, config)
    group = "magnum.openstack.org/nodegroup"
    kube.create(node("cp-0", "2", "4Gi", labels={"node-role.kubernetes.io/control-plane": ""}))
    kube.create(node("w-0", "3800m", "15Gi", labels={group: "default-worker"}))
    kube.create(node("w-1", "7600m", "31Gi", labels={group: "default-worker"}))
    kube.create(
        node(
            "g-0",
            "16",
            "60Gi",
            labels={group: "gpu-worker"},
            allocatable={"nvidia.com/gpu": "2"},
            taints=[{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}],
        )
    )

    plan = capacity_run.run(load(ENV, require_secrets=False), Console(), users=20, ready_per=5)

    # Placeholders: ⌈20 / 5⌉ = 4.
    assert plan.placeholders == 4
    assert fits(plan) == {
        # default-worker: the smaller node counts (w-0): 3800m − 300m = 3500m;
        # 15 GiB − 512 MiB = 14848 MiB = 15,569,256,448 B → // 1.8e9 = 8 (memory);
        # nodes for 20 users + 4 placeholders: ⌈24 / 8⌉ = 3.
        ("default", "default-worker"): (8, "memory", 3),
        # large (7.5e9): 15,569,256,448 // 7.5e9 = 2; ⌈20 / 2⌉ = 10.
        ("large", "default-worker"): (2, "memory", 10),
        # gpu-worker: 16000m − 300m = 15700m; 60 GiB − 512 MiB = 60928 MiB
        #   = 63,887,638,528 B; gpu: CPU 314, memory // 3e9 = 21, GPUs 2 // 1 = 2 → 2 (gpu);
        # ⌈20 / 2⌉ = 10. The control-plane node is not a place for users.
        ("gpu", "gpu-worker"): (2, "gpu", 10),
    }


# ------------------------------------------------------------------ the arithmetic alone


@pytest.mark.parametrize(
    ("specs", "gpus"),
    [
        ({"pci_passthrough:alias": "a100:2,t4:1"}, 3),  # 2 + 1
        ({"pci_passthrough:alias": "a100:1", "resources:PGPU": "1"}, 1),  # one device, twice
        ({"resources:VGPU": "4"}, 4),
        ({"pci_passthrough:alias": "a100"}, 0),  # no count: nothing to trust
        ({}, 0),
    ],
)
def test_gpus_in_flavor_extra_specs(specs: dict[str, str], gpus: int) -> None:
    assert capacity.gpus_in_extra_specs(specs) == gpus


def test_ties_and_tainted_groups() -> None:
    # room 1000m and 2 GiB; a profile of 500m and 1 GiB: CPU 1000 // 500 = 2,
    # memory 2 // 1 = 2 → 2, and a tie goes to CPU (listed first).
    gib = 2**30
    node = NodeShape("small", "test", Resources(1000, 2 * gib), 0, "all", 3)
    needs = ProfileNeeds("p", True, Resources(500, gib), Resources(500, gib), 0)
    assert capacity.users_per_node(needs, node) == (2, "cpu")
    # With 6 users and ⌈6 / 4⌉ = 2 placeholders: ⌈8 / 2⌉ = 4 nodes, above the bound of 3.
    plan = capacity.plan([needs], [node], users=6, ready_per=4)
    assert plan.placeholders == 2
    assert plan.fits[0].nodes_needed == 4
    assert plan.warnings == ["6 users of profile p on small need 4 nodes; its max_node_count is 3"]
    # A group tainted for something else takes no profile at all.
    tainted = NodeShape("special", "test", Resources(1000, 2 * gib), 0, "none", 3)
    assert capacity.plan([needs], [tainted]).warnings == [
        "profile p has no untainted node group to run on: it can never start"
    ]


# ------------------------------------------------------------------ placeholders and units


def test_profile_placeholders_are_counted_and_their_nodes_shown(
    config_dir: Path, cloud: FakeCloud, run_task: Run
) -> None:
    config = on_fake_flavors()
    gpu = next(p for p in config["hub"]["profiles"] if p["name"] == "gpu")
    gpu["placeholders"] = 3
    write(config_dir, config)

    plan = capacity_run.run(load(ENV, require_secrets=False), Console(), users=60, ready_per=10)

    # gpu fits 1 per gpu-worker node (by GPU): 60 users + its 3 placeholders → ⌈63 / 1⌉ = 63.
    assert fits(plan)[("gpu", "gpu-worker")] == (1, "gpu", 63)
    (gpu_fit,) = [fit for fit in plan.fits if fit.profile == "gpu"]
    # The 3 placeholders alone: ⌈3 / 1⌉ = 3 nodes, above cluster.gpu.max_nodes 2.
    assert gpu_fit.placeholder_nodes == 3
    assert (
        "the 3 placeholders of profile gpu alone need 3 gpu-worker nodes; "
        "cluster.gpu.max_nodes is 2" in plan.warnings
    )
    # The default profile's: the chart's 4 replicas on 4 per node → ⌈4 / 4⌉ = 1 node.
    default = next(f for f in plan.fits if (f.profile, f.group) == ("default", "default-worker"))
    assert default.placeholder_nodes == 1

    result = run_task("hub.capacity", "--env", ENV)
    out = " ".join(result.out.split())
    # 3 × 1 GPU; 3 × 0.05 CPU = 0.15; 3 × 3,000,000,000 B = 8.38 GiB.
    assert (
        "Placeholders of profile gpu: 3 pod(s) shaped like its server, holding 3 GPU(s), "
        "0.15 CPU and 8.38 GiB idle" in out
    )
    assert (
        "gpu on gpu-worker: 1 (by gpu); 2 users at the configured maximum; its placeholders "
        "keep 3 node(s) up" in out
    )


def test_binary_quantities_count_in_exact_bytes(config_dir: Path, cloud: FakeCloud) -> None:
    config = on_fake_flavors()
    config["hub"]["profiles"][0]["memory"] = {"guarantee": "2.3Gi", "limit": "2.3Gi"}
    config["hub"]["profiles"][0]["cpu"] = {"guarantee": "250m", "limit": "1"}
    write(config_dir, config)

    plan = capacity_run.run(load(ENV, require_secrets=False), Console())

    # 2.3Gi = 2.3 × 1,073,741,824 = 2,469,606,195.2 B → 2,469,606,196 (rounded up, as
    # Kubernetes does). default-worker room 7,516,192,768 B // 2,469,606,196 = 3;
    # CPU 3500 // 250 = 14 → 3 (memory).
    assert fits(plan)[("default", "default-worker")] == (3, "memory", None)


def test_an_untainted_node_the_gpu_operator_labels_takes_gpu_profiles_only(
    config_dir: Path, kube: FakeKube
) -> None:
    config = copy.deepcopy(EXAMPLE)
    config["cluster"] = {
        "driver": "existing",
        "name": "campus",
        "kubeconfig": str(kube.kubeconfig_path),
    }
    write(config_dir, config)
    group = "magnum.openstack.org/nodegroup"
    kube.create(node("w-0", "3800m", "15Gi", labels={group: "default-worker"}))
    # What capi-helm gives: no taint, but the GPU operator's labels.
    kube.create(
        node(
            "g-0",
            "16",
            "60Gi",
            labels={group: "gpu-worker", "nvidia.com/gpu.present": "true"},
            allocatable={"nvidia.com/gpu": "1"},
        )
    )

    plan = capacity_run.run(load(ENV, require_secrets=False), Console())

    places = {(fit.profile, fit.group) for fit in plan.fits}
    assert ("default", "gpu-worker") not in places
    assert ("large", "gpu-worker") not in places
    assert ("gpu", "gpu-worker") in places
