"""What users get in their server, as the real KubeSpawner 7.0.0 builds it from our values.

Every case renders the hub's values, loads them the way the z2jh 4.4.0 hub does
(tests/hub/kubespawner_config.py) and asks KubeSpawner for the pod and claim of one
profile. Quantities are compared as Kubernetes reads them (kubernetes_reads, the test's
own reading); expected figures are written out by hand.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.metadata
import json
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from scripts.core.settings import Settings
from scripts.core.templates import placeholder_secrets, render
from scripts.hub import placeholders
from tests.hub import environments
from tests.hub.kubespawner_config import (
    Spawned,
    chart_placeholder_pod,
    chart_values,
    kubernetes_reads,
    kubespawner,
    kubespawner_config,
    spawn,
)
from tests.support.contract import JUPYTERHUB, chart_schema

__all__ = ["kubespawner"]  # the fixture, used by name below

pytestmark = pytest.mark.usefixtures("kubespawner")

# The term every CPU pod gets: neither GPU label "true" (both in one term: ANDed).
OFF_GPU_NODES = {
    "matchExpressions": [
        {"key": "nvidia.com/gpu.present", "operator": "NotIn", "values": ["true"]},
        {
            "key": "feature.node.kubernetes.io/pci-10de.present",
            "operator": "NotIn",
            "values": ["true"],
        },
    ]
}
GPU_TOLERATION = {
    "key": "nvidia.com/gpu",
    "operator": "Equal",
    "value": "present",
    "effect": "NoSchedule",
}


def values_of(config: dict[str, Any]) -> dict[str, Any]:
    return render("jupyterhub", Settings.model_validate(config), placeholder_secrets()).values


def unordered(items: list[dict[str, Any]]) -> list[str]:
    """Tolerations as a set: their order means nothing to the scheduler."""
    return sorted(json.dumps(item, sort_keys=True) for item in items)


def read(resources: dict[str, Any]) -> dict[str, Decimal]:
    return {name: kubernetes_reads(value) for name, value in resources.items()}


def all_profiles() -> dict[str, Any]:
    """The example with every profile on (default, large, gpu, vdi) and sudo off."""
    config = environments.gpu_desktop()
    config["hub"]["sudo"] = False
    return config


def test_the_test_extra_runs_what_the_z2jh_hub_image_runs() -> None:
    # z2jh 4.4.0 images/hub/requirements.txt pins jupyterhub 5.5.0 and
    # jupyterhub-kubespawner 7.0.0.
    assert importlib.metadata.version("jupyterhub-kubespawner") == "7.0.0"
    assert importlib.metadata.version("jupyterhub").startswith("5.5.")


# ------------------------------------------------------------------ defect 1: one unit rule


def test_each_profile_gets_the_bytes_and_cores_its_config_names() -> None:
    values = values_of(all_profiles())
    # (cpu guarantee, cpu limit, memory guarantee, memory limit) as Kubernetes reads
    # the config: 1.8G = 1,800,000,000 B, 7.5G = 7,500,000,000 B, 3G and 4G likewise.
    expected = {
        "default": ("0.05", "2", 1_800_000_000, 1_800_000_000),
        "large": ("0.05", "8", 7_500_000_000, 7_500_000_000),
        "gpu": ("0.05", "2", 3_000_000_000, 3_000_000_000),
        "vdi": ("0.05", "4", 4_000_000_000, 4_000_000_000),
    }
    for slug, (cpu_g, cpu_l, mem_g, mem_l) in expected.items():
        resources = spawn(values, slug).container["resources"]
        assert read(resources["requests"]) == {"cpu": Decimal(cpu_g), "memory": mem_g}, slug
        limits = read(resources["limits"])
        assert (limits["cpu"], limits["memory"]) == (Decimal(cpu_l), Decimal(mem_l)), slug


def test_the_chart_placeholders_reserve_what_a_default_user_pod_requests() -> None:
    values = values_of(environments.example())
    user = spawn(values, None).container["resources"]
    chart = chart_placeholder_pod(values)["resources"]
    assert (
        read(chart["requests"])
        == read(user["requests"])
        == {
            "cpu": Decimal("0.05"),
            "memory": 1_800_000_000,
        }
    )
    assert read(chart["limits"]) == read(user["limits"])
    # Without the explicit resources the chart prints singleuser.memory itself
    # (1.8e+09 through Go's %v): still the same bytes.
    del values["scheduling"]["userPlaceholder"]["resources"]
    printed = chart_placeholder_pod(values)["resources"]
    assert printed["requests"]["memory"] == "1.8e+09"
    assert read(printed["requests"]) == read(user["requests"])


# ------------------------------------------------------------------ defect 2: Kubernetes forms


def kubernetes_forms() -> dict[str, Any]:
    config = all_profiles()
    default, large = config["hub"]["profiles"][0], config["hub"]["profiles"][1]
    default["cpu"] = {"guarantee": "500m", "limit": "1"}
    default["memory"] = {"guarantee": "2000M", "limit": "2G"}
    large["cpu"] = {"guarantee": 0.5, "limit": "7500m"}
    large["memory"] = {"guarantee": "7Gi", "limit": 8589934592}
    return config


def test_kubernetes_forms_become_what_kubernetes_means() -> None:
    values = values_of(kubernetes_forms())
    default = spawn(values, "default").container["resources"]
    # 500m = 0.5 cores; 2000M = 2G = 2,000,000,000 B.
    assert read(default["requests"]) == {"cpu": Decimal("0.5"), "memory": 2_000_000_000}
    assert read(default["limits"]) == {"cpu": 1, "memory": 2_000_000_000}
    large = spawn(values, "large").container["resources"]
    # 7Gi = 7 × 1,073,741,824 = 7,516,192,768 B; 8589934592 B as written; 7500m = 7.5.
    assert read(large["requests"]) == {"cpu": Decimal("0.5"), "memory": 7_516_192_768}
    assert read(large["limits"]) == {"cpu": Decimal("7.5"), "memory": 8_589_934_592}
    # And Helm takes them: the chart's schema wants numbers for singleuser.cpu.
    validator = jsonschema.Draft7Validator(chart_schema(JUPYTERHUB))
    assert [e.message for e in validator.iter_errors(chart_values(values))] == []


# ------------------------------------------------------------------ defect 3: sudo


def test_sudo_gives_a_root_start_with_privilege_escalation_and_grant_sudo() -> None:
    values = values_of(environments.gpu_desktop())
    for slug in ("default", "vdi"):
        spawned = spawn(values, slug)
        # kubespawner/objects.py at 7.0.0 lines 448-456: uid → runAsUser,
        # allow_privilege_escalation → allowPrivilegeEscalation.
        assert spawned.container["securityContext"] == {
            "allowPrivilegeEscalation": True,
            "runAsUser": 0,
        }
        assert spawned.env["GRANT_SUDO"] == "yes"
        # No arguments: the image's own CMD (docker-stacks' start script), which grants
        # sudo and then switches to the notebook user; KubeSpawner passes cmd as args.
        assert "args" not in spawned.container and "command" not in spawned.container
    plain = spawn(values_of(environments.example()), None)
    assert plain.container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "runAsUser": 1000,
    }
    assert plain.container["args"] == ["jupyterhub-singleuser"]
    assert "GRANT_SUDO" not in plain.env


# ------------------------------------------------------------------ defect 4: a real desktop


def test_a_desktop_profile_opens_the_remote_desktop_in_its_image() -> None:
    config = all_profiles()
    vdi = next(p for p in config["hub"]["profiles"] if p["name"] == "vdi")
    vdi.pop("image", None)
    spawned = spawn(values_of(config), "vdi")
    assert spawned.env["JUPYTERHUB_DEFAULT_URL"] == "/desktop"
    assert spawned.container["image"] == "quay.io/jupyterhub/jupyter-remote-desktop-proxy:3.0.1"
    # The other profiles keep singleuser.default_url.
    assert spawn(values_of(config), "large").env["JUPYTERHUB_DEFAULT_URL"] == "/lab"


def test_a_desktop_image_of_ones_own_can_be_named() -> None:
    config = all_profiles()
    vdi = next(p for p in config["hub"]["profiles"] if p["name"] == "vdi")
    vdi["image"] = "registry.stfc.ac.uk/jupyter/jupyterhub-vdi-proxy:2025.11"
    spawned = spawn(values_of(config), "vdi")
    assert spawned.container["image"] == "registry.stfc.ac.uk/jupyter/jupyterhub-vdi-proxy:2025.11"
    assert spawned.env["JUPYTERHUB_DEFAULT_URL"] == "/desktop"


def test_a_default_desktop_profile_lands_on_the_desktop_too() -> None:
    config = all_profiles()
    config["hub"]["profiles"] = [
        {
            "name": "desktop",
            "display_name": "Desktop",
            "default": True,
            "desktop": True,
            "memory": {"guarantee": "2G", "limit": "4G"},
        }
    ]
    config["hub"]["placeholders"].pop("profile", None)
    spawned = spawn(values_of(config), None)
    assert spawned.env["JUPYTERHUB_DEFAULT_URL"] == "/desktop"
    assert spawned.container["image"] == "quay.io/jupyterhub/jupyter-remote-desktop-proxy:3.0.1"


# ------------------------------------------------------------------ defect 5: GPU on the default


def gpu_default() -> dict[str, Any]:
    config = environments.example()
    gpu = next(p for p in config["hub"]["profiles"] if p["name"] == "gpu")
    config["hub"]["profiles"] = [
        {**gpu, "default": True},
        {**config["hub"]["profiles"][1], "default": False},
    ]
    config["hub"]["placeholders"].pop("profile", None)
    return config


def test_a_gpu_on_the_default_profile_reaches_its_pod_and_its_placeholders() -> None:
    values = values_of(gpu_default())
    pod = spawn(values, None)
    assert pod.container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod.container["image"] == "quay.io/jupyter/pytorch-notebook:cuda12-2025-11-17"
    assert GPU_TOLERATION in pod.pod["spec"]["tolerations"]
    assert (
        "requiredDuringSchedulingIgnoredDuringExecution"
        not in pod.pod["spec"]["affinity"]["nodeAffinity"]
    )
    chart = chart_placeholder_pod(values)
    assert chart["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert GPU_TOLERATION in chart["tolerations"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in chart["affinity"]["nodeAffinity"]
    # The CPU profile beside it has no GPU and stays off GPU nodes.
    large = spawn(values, "large")
    assert "nvidia.com/gpu" not in large.container["resources"]["limits"]
    assert GPU_TOLERATION not in large.pod["spec"]["tolerations"]
    assert required_terms(large) == [OFF_GPU_NODES]


# ------------------------------------------------------------------ where pods go


def required_terms(spawned: Spawned) -> list[dict[str, Any]]:
    node = spawned.pod["spec"]["affinity"]["nodeAffinity"]
    return list(node["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"])


def test_cpu_profiles_stay_off_gpu_nodes_and_gpu_profiles_tolerate_them() -> None:
    values = values_of(all_profiles())
    for slug in ("default", "large", "vdi"):
        spawned = spawn(values, slug)
        assert required_terms(spawned) == [OFF_GPU_NODES], slug
        assert GPU_TOLERATION not in spawned.pod["spec"]["tolerations"], slug
        assert "nvidia.com/gpu" not in spawned.container["resources"]["limits"], slug
    gpu = spawn(values, "gpu")
    assert gpu.container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert GPU_TOLERATION in gpu.pod["spec"]["tolerations"]
    assert (
        "requiredDuringSchedulingIgnoredDuringExecution"
        not in gpu.pod["spec"]["affinity"]["nodeAffinity"]
    )
    # The chart's placeholders go where a default user goes.
    chart = chart_placeholder_pod(values)
    default = spawn(values, None).pod["spec"]
    assert chart["affinity"] == default["affinity"]
    assert unordered(chart["tolerations"]) == unordered(default["tolerations"])
    assert chart["schedulerName"] == default["schedulerName"] == "jhub-user-scheduler"


def test_the_hubs_own_pods_stay_off_gpu_nodes() -> None:
    values = chart_values(values_of(environments.example()))
    wanted = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [OFF_GPU_NODES]
            },
            # The chart's own preference, which matchNodePurpose "ignore" switches off
            # in templates/scheduling/_scheduling-helpers.tpl lines 114-138.
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "preference": {
                        "matchExpressions": [
                            {
                                "key": "hub.jupyter.org/node-purpose",
                                "operator": "In",
                                "values": ["core"],
                            }
                        ]
                    },
                }
            ],
        }
    }
    assert values["scheduling"]["corePods"]["nodeAffinity"]["matchNodePurpose"] == "ignore"
    for where in (
        values["hub"],
        values["proxy"]["chp"],
        values["proxy"]["traefik"],
        values["scheduling"]["userScheduler"],
    ):
        assert where["extraPodSpec"] == {"affinity": wanted}


def test_a_failed_start_leaves_nothing_of_its_profile_behind() -> None:
    # JupyterHub keeps the spawner of a start that failed (jupyterhub/user.py, User.stop)
    # and KubeSpawner applies the next profile on top of it.
    values = values_of(all_profiles())
    config = kubespawner_config(chart_values(values), release="jhub", namespace="jhub")

    async def gpu_then_default() -> dict[str, Any]:
        from jupyterhub.objects import Hub
        from kubernetes_asyncio.client import ApiClient
        from kubespawner import KubeSpawner

        from tests.hub.kubespawner_config import HubUser

        spawner = KubeSpawner(config=config, user=HubUser("ann"), hub=Hub(), _mock=True)
        for profile in ("gpu", "default"):
            spawner.user_options = {"profile": profile}
            await spawner.load_user_options()
        async with ApiClient() as api:
            pod: dict[str, Any] = api.sanitize_for_serialization(await spawner.get_pod_manifest())
        return pod

    pod = asyncio.run(gpu_then_default())
    (container,) = [c for c in pod["spec"]["containers"] if c["name"] == "notebook"]
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    assert container["image"] == "quay.io/jupyter/scipy-notebook:2025-11-17"
    assert GPU_TOLERATION not in pod["spec"]["tolerations"]
    node = pod["spec"]["affinity"]["nodeAffinity"]
    assert node["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
        OFF_GPU_NODES
    ]


def test_each_user_gets_a_claim_of_the_configured_class_and_size() -> None:
    spawned = spawn(values_of(environments.example()), None, user="john.smith")
    claim = spawned.pvc
    assert claim["spec"]["storageClassName"] == "cinder-storage"
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    # KubeSpawner 7 names objects with a safe slug of the user name: a name with a dot
    # gets a hash (kubespawner/slugs.py safe_slug), and the pod mounts that claim.
    assert claim["metadata"]["name"] == "claim-john-smith---3b5ed8ad"
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in spawned.pod["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert claims == ["claim-john-smith---3b5ed8ad"]
    mounts = {m["name"]: m["mountPath"] for m in spawned.container["volumeMounts"]}
    assert mounts == {"shm-volume": "/dev/shm", "volume-john-smith---3b5ed8ad": "/home/jovyan"}


# ------------------------------------------------------------------ GPU placeholders


def gpu_placeholders(count: int = 2) -> dict[str, Any]:
    config = environments.example()
    gpu = next(p for p in config["hub"]["profiles"] if p["name"] == "gpu")
    gpu["placeholders"] = count
    return config


def test_gpu_placeholders_are_shaped_exactly_like_a_gpu_users_pod() -> None:
    config = gpu_placeholders(2)
    values = values_of(config)
    user = spawn(values, "gpu").pod["spec"]
    (statefulset,) = placeholders.wanted(Settings.model_validate(config))
    assert statefulset["metadata"]["name"] == "user-placeholder-gpu"
    assert statefulset["spec"]["replicas"] == 2
    held = statefulset["spec"]["template"]["spec"]
    (pause,) = held["containers"]
    (notebook,) = [c for c in user["containers"] if c["name"] == "notebook"]
    assert pause["resources"] == notebook["resources"]
    assert pause["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert held["affinity"] == user["affinity"]
    assert unordered(held["tolerations"]) == unordered(user["tolerations"])
    assert held["schedulerName"] == user["schedulerName"] == "jhub-user-scheduler"
    # Below the users' priority, so a user's pod preempts it (the chart's classes:
    # defaultPriority 0, userPlaceholderPriority -10).
    assert user["priorityClassName"] == "jhub-default-priority"
    assert held["priorityClassName"] == "jhub-user-placeholder-priority"
    scheduling = values["scheduling"]["podPriority"]
    assert scheduling["defaultPriority"] > scheduling["userPlaceholderPriority"]
    # The profile's image is pulled onto the node the placeholder holds.
    assert (
        held["initContainers"][0]["image"] == "quay.io/jupyter/pytorch-notebook:cuda12-2025-11-17"
    )


def test_gpu_placeholders_keep_the_chart_priority_class_without_default_placeholders() -> None:
    config = gpu_placeholders(1)
    config["hub"]["placeholders"] = {"enabled": False}
    placeholder = values_of(config)["scheduling"]["userPlaceholder"]
    # The chart creates the PriorityClass only with userPlaceholder enabled
    # (templates/scheduling/user-placeholder/priorityclass.yaml lines 1-2).
    assert placeholder["enabled"] is True
    assert placeholder["replicas"] == 0
    unchanged = copy.deepcopy(config)
    unchanged["hub"]["profiles"][2]["placeholders"] = 0
    assert values_of(unchanged)["scheduling"]["userPlaceholder"]["enabled"] is False
