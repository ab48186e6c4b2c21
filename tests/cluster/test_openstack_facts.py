"""Magnum microversions, capi-helm's node-group rules, Glance and Nova as they really behave.

Expected values are the upstream facts (docs/testing.md, "OpenStack: Magnum API versions,
Nova, Glance"), written out here, never computed with the code under test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from scripts.cluster import deploy
from scripts.core.console import Console
from scripts.core.flavors import gpus_in_extra_specs
from tests.cluster.conftest import ENV, EnvFactory
from tests.support.fakecloud import FakeCloud

NODEGROUPS = r"/v1/clusters/[^/]+/nodegroups/?$"


# ------------------------------------------------------------------ the fake follows upstream


def test_released_magnum_refuses_node_labels_as_wsme_does(cloud: FakeCloud) -> None:
    cluster = cloud.add_cluster("c")
    session = cloud.conn.session
    url = f"https://magnum.fake.test/v1/clusters/{cluster['uuid']}/nodegroups"
    headers = {"OpenStack-API-Version": "container-infra 1.12"}
    body = {"name": "g", "flavor_id": "m1.large", "node_labels": {"a": "b"}}

    refused = session.post(url, json=body, headers=headers, raise_exc=False)
    assert refused.status_code == 400
    assert "Unknown attribute for argument nodegroup: node_labels" in refused.text

    cloud.emulate_magnum("master")
    accepted = session.post(url, json=body, headers=headers, raise_exc=False)
    assert accepted.status_code == 202


def test_magnum_microversion_ceiling_per_release(cloud: FakeCloud) -> None:
    session = cloud.conn.session
    ask = {"OpenStack-API-Version": "container-infra 1.14"}

    stable = session.get("https://magnum.fake.test/v1/clusters", headers=ask, raise_exc=False)
    assert stable.status_code == 406
    root = session.get("https://magnum.fake.test/", raise_exc=False).json()
    assert root["versions"][0]["max_version"] == "1.12"

    cloud.emulate_magnum("master")
    master = session.get("https://magnum.fake.test/v1/clusters", headers=ask, raise_exc=False)
    assert master.status_code == 200
    assert master.headers["OpenStack-API-Maximum-Version"] == (
        "container-infrastructure-management 1.14"
    )


def test_capi_helm_conductor_fails_a_group_with_min_zero_after_202(cloud: FakeCloud) -> None:
    cluster = cloud.add_cluster("c", labels={"auto_scaling_enabled": "true"})
    group = cloud.magnum.nodegroups.create(
        cluster["uuid"], name="g", flavor_id="m1.large", node_count=0, min_node_count=0
    )

    assert group.status == "CREATE_IN_PROGRESS"  # what the API answered
    stored = next(g for g in cloud.nodegroups.values() if g["name"] == "g")
    assert stored["status"] == "CREATE_FAILED"
    assert stored["status_reason"] == (
        "Min node count must be greater than or equal to 1 for all node groups."
    )
    assert cloud.clusters[cluster["uuid"]]["status"] == "UPDATE_FAILED"


def test_nova_embeds_extra_specs_from_2_61_only(cloud: FakeCloud) -> None:
    session = cloud.conn.session
    [gpu] = [f for f in cloud.flavors.values() if f["name"] == "g1.large.a100"]
    url = f"https://nova.fake.test/v2.1/flavors/{gpu['id']}"

    old = session.get(url, headers={"OpenStack-API-Version": "compute 2.60"}).json()
    new = session.get(url, headers={"OpenStack-API-Version": "compute 2.61"}).json()
    specs = session.get(url + "/os-extra_specs").json()

    assert "extra_specs" not in old["flavor"]
    assert new["flavor"]["extra_specs"] == {"pci_passthrough:alias": "a100:1"}
    assert specs == {"extra_specs": {"pci_passthrough:alias": "a100:1"}}


def test_glance_puts_image_properties_at_the_top_level(cloud: FakeCloud) -> None:
    image = cloud.conn.image.find_image("ubuntu-jammy-kube-v1.32.4")
    assert image is not None and image.os_distro == "ubuntu"
    assert image.properties["kube_version"] == "v1.32.4"


# ------------------------------------------------------------------ the tool


def test_deploy_negotiates_the_servers_microversion(cloud: FakeCloud, make_env: EnvFactory) -> None:
    deploy.run(make_env(), Console(), clock=cloud.clock)
    stable = {r.headers.get("OpenStack-API-Version") for r in cloud.log.find("POST", NODEGROUPS)}
    assert stable == {"container-infra 1.12"}


def test_deploy_on_magnum_master_asks_for_1_14_and_still_sends_no_labels(
    cloud: FakeCloud, make_env: EnvFactory
) -> None:
    cloud.emulate_magnum("master")
    deploy.run(make_env(), Console(), clock=cloud.clock)
    posts = cloud.log.find("POST", NODEGROUPS)
    assert {r.headers.get("OpenStack-API-Version") for r in posts} == {"container-infra 1.14"}
    assert all("node_labels" not in r.body and "node_taints" not in r.body for r in posts)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"cluster": {"gpu": {"min_nodes": 0}}}, "cluster.gpu.min_nodes"),
        (
            {"cluster": {"node_groups": [{"name": "big", "flavor": "m1.xlarge", "min_nodes": 0}]}},
            "cluster.node_groups[0].min_nodes",
        ),
        (
            {
                "cluster": {
                    "node_groups": [{"name": "big", "flavor": "m1.xlarge", "labels": {"a": "b"}}]
                }
            },
            "cluster.node_groups[0].labels",
        ),
    ],
)
def test_config_check_refuses_what_capi_helm_refuses_or_ignores(
    cloud: FakeCloud,
    make_env: EnvFactory,
    run_task: Callable[..., Any],
    changes: dict[str, Any],
    key: str,
) -> None:
    with pytest.raises(Exception):  # noqa: B017 - loading refuses it as well
        make_env(**changes)
    result = run_task("config.check", "--env", ENV)

    assert result.code == 2
    assert key in result.err and "capi-helm" in result.err
    assert [r for r in cloud.log if not r.is_auth] == []


def test_heat_accepts_min_zero_and_labels(make_env: EnvFactory) -> None:
    environment = make_env(
        cluster={
            "driver": "heat",
            "gpu": {"min_nodes": 0},
            "node_groups": [
                {"name": "big", "flavor": "m1.xlarge", "min_nodes": 0, "labels": {"a": "b"}}
            ],
        }
    )
    assert environment.settings.cluster.gpu.min_nodes == 0


def test_image_without_kube_version_is_refused_before_create(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    cloud.add_image("ubuntu-plain", os_distro="ubuntu")
    make_env(cluster={"image": "ubuntu-plain"})

    result = run_task("cluster.deploy", "--env", ENV)

    assert result.code == 2
    assert "cluster.image" in result.err and "kube_version" in result.err
    assert cloud.mutating_calls() == []


def test_missing_flavor_and_gpu_flavor_without_gpus_are_refused_before_create(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    make_env(cluster={"gpu": {"flavor": "m1.large"}, "master_flavor": "m9.nothing"})

    result = run_task("cluster.deploy", "--env", ENV)

    assert result.code == 2
    assert "cluster.master_flavor" in result.err and "m9.nothing" in result.err
    assert "cluster.gpu.flavor" in result.err and "names no GPU" in result.err
    assert cloud.mutating_calls() == []


def test_heat_driver_needs_a_fedora_coreos_image(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    make_env(cluster={"driver": "heat", "image": "ubuntu-jammy-kube-v1.32.4"})

    result = run_task("cluster.deploy", "--env", ENV)

    assert result.code == 2
    assert "os_distro 'ubuntu'" in result.err and "fedora-coreos" in result.err


@pytest.mark.parametrize(
    ("specs", "gpus"),
    [
        ({"pci_passthrough:alias": "a100:2"}, 2),
        ({"pci_passthrough:alias": "a100:1,t4:2"}, 3),
        ({"resources:VGPU": "1"}, 1),
        ({"resources1:VGPU": "1", "resources2:VGPU": "1"}, 2),
        ({"resources_gpu:PGPU": "1"}, 1),
        ({"resources:CUSTOM_PCI_10DE_20B5": "2"}, 2),
        ({"resources:VCPU": "8", "hw:cpu_policy": "dedicated"}, 0),
    ],
)
def test_gpus_in_extra_specs(specs: dict[str, str], gpus: int) -> None:
    assert gpus_in_extra_specs(specs) == gpus
