"""cluster.delete: Service load balancers first (cascade), floating IPs, then the cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from invoke.exceptions import Exit

from scripts.cluster import delete, deploy
from scripts.core.console import Console
from scripts.core.loading import Environment
from scripts.core.runner import procedure
from tests.cluster.conftest import ENV, EnvFactory
from tests.support.fakecloud import FakeCloud

PINNED = "203.0.113.50"
# Named after the Magnum name, which is not what cloud-provider-openstack uses: not ours.
MAGNUM_NAMED = "kube_service_jhub-test_jhub_proxy-public"
HEAT = {"driver": "heat", "image": "fedora-coreos-40"}


def cpo_description(service: str, cluster: str) -> str:
    return f"Floating IP for Kubernetes external service {service} from cluster {cluster}"


def controller_name(cloud: FakeCloud) -> str:
    """The --cluster-name, spelled out from the fake's record: the capi-helm stack_id, or
    the uuid on heat (the template's driver says which)."""
    (cluster,) = cloud.clusters.values()
    template = cloud.templates[cluster["cluster_template_id"]]
    return str(
        cluster["uuid"] if template["driver"] == "k8s_fedora_coreos_v1" else cluster["stack_id"]
    )


def ours(cloud: FakeCloud) -> str:
    return f"kube_service_{controller_name(cloud)}_jhub_proxy-public"


def grafana(cloud: FakeCloud) -> str:
    return f"kube_service_{controller_name(cloud)}_prometheus_grafana"


def other_cluster(cloud: FakeCloud) -> str:
    return f"kube_service_{controller_name(cloud)}-2_jhub_proxy-public"


def underscored(cloud: FakeCloud) -> str:
    return f"kube_service_{controller_name(cloud)}_x_jhub_proxy-public"  # cluster "<it>_x"


def build_landscape(cloud: FakeCloud, make_env: EnvFactory, **cluster: Any) -> Environment:
    """A deployed cluster, its Service LBs with floating IPs, and other clusters' LBs."""
    environment = make_env(hub={"floating_ip": PINNED}, cluster={"diagnostic_lb": True, **cluster})
    deploy.run(environment, Console(), clock=cloud.clock)
    hub = cloud.add_load_balancer(ours(cloud), listeners=[("TCP", 443)], members=["10.0.0.20"])
    cloud.add_floating_ip(PINNED, description="jupyter.example.org", port_id=hub["vip_port_id"])
    lb = cloud.add_load_balancer(grafana(cloud), listeners=[("TCP", 80)])
    cloud.add_floating_ip(
        description=cpo_description("prometheus/grafana", controller_name(cloud)),
        port_id=lb["vip_port_id"],
    )
    for name in (other_cluster(cloud), underscored(cloud), MAGNUM_NAMED):
        cloud.add_load_balancer(name, listeners=[("TCP", 443)])
    cloud.settle_all()
    return environment


@pytest.fixture
def landscape(cloud: FakeCloud, make_env: EnvFactory) -> Environment:
    return build_landscape(cloud, make_env)


def lb_names(cloud: FakeCloud) -> set[str]:
    return {lb["name"] for lb in cloud.load_balancers.values()}


def test_without_yes_it_lists_and_stops(
    cloud: FakeCloud, landscape: Environment, run_task: Callable[..., Any]
) -> None:
    before = len(cloud.mutating_calls())

    result = run_task("cluster.delete", "--env", ENV)

    assert result.code == 2
    assert "option --yes: required" in result.err
    for name in (ours(cloud), grafana(cloud), "jhub-test_master_in", "cluster jhub-test"):
        assert name in result.out
    assert PINNED in result.out
    assert other_cluster(cloud) not in result.out and underscored(cloud) not in result.out
    assert MAGNUM_NAMED not in result.out
    assert len(cloud.mutating_calls()) == before


def test_dry_run_deletes_nothing(
    cloud: FakeCloud, landscape: Environment, run_task: Callable[..., Any]
) -> None:
    before = len(cloud.mutating_calls())
    result = run_task("cluster.delete", "--env", ENV, "--dry-run")
    assert result.code == 0, result.err
    assert f"would delete load balancer {ours(cloud)}" in result.out
    assert len(cloud.mutating_calls()) == before


@pytest.mark.parametrize("driver", [{}, HEAT], ids=["capi-helm", "heat"])
def test_yes_deletes_service_lbs_then_the_cluster(
    cloud: FakeCloud,
    make_env: EnvFactory,
    capsys: pytest.CaptureFixture[str],
    driver: dict[str, str],
) -> None:
    landscape = build_landscape(cloud, make_env, **driver)
    (uuid,) = cloud.clusters
    # heat: the controller runs with the uuid; capi-helm: with the release (stack_id).
    assert (controller_name(cloud) == uuid) is (driver == HEAT)
    keep = {other_cluster(cloud), underscored(cloud), MAGNUM_NAMED}
    start = len(cloud.log)
    grafana_ip = next(
        ip["floating_ip_address"]
        for ip in cloud.floating_ips.values()
        if ip["description"].startswith("Floating IP for Kubernetes")
    )

    delete.run(landscape, Console(), yes=True, clock=cloud.clock)

    assert lb_names(cloud) == keep
    assert cloud.clusters == {}
    addresses = {ip["floating_ip_address"]: ip for ip in cloud.floating_ips.values()}
    assert PINNED in addresses and addresses[PINNED]["port_id"] is None  # kept, now free
    assert grafana_ip not in addresses  # cloud-provider-openstack's own: released
    calls = [r for r in cloud.log[start:] if r.method == "DELETE"]
    lb_deletes = [r for r in calls if "loadbalancers" in r.path]
    assert len(lb_deletes) == 3
    assert all(r.query.get("cascade") == ["True"] for r in lb_deletes)
    cluster_delete = next(i for i, r in enumerate(calls) if "/v1/clusters/" in r.path)
    assert cluster_delete == len(calls) - 1  # the cluster goes last
    out = capsys.readouterr().out
    assert f"floating IP {PINNED} kept" in out


def test_nothing_to_delete_is_unchanged(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    make_env()
    result = run_task("cluster.delete", "--env", ENV, "--yes")
    assert result.code == 0 and "does not exist; nothing to delete" in result.out
    assert cloud.mutating_calls() == []


def test_failed_deletion_shows_the_reason(
    cloud: FakeCloud, make_env: EnvFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    environment = make_env()
    deploy.run(environment, Console(), clock=cloud.clock)
    cloud.fail_next("cluster_delete", "Resource DELETE failed: port in use on subnet")

    with pytest.raises(Exit) as stop:
        procedure(lambda: delete.run(environment, Console(), yes=True, clock=cloud.clock))()

    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert "DELETE_FAILED: Resource DELETE failed: port in use" in err
    assert "cluster.delete --yes --env cloudtest" in err


def test_existing_driver_is_never_deleted(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    make_env(cluster={"driver": "existing"})
    result = run_task("cluster.delete", "--env", ENV, "--yes")
    assert result.code == 2 and "will not delete it" in result.err
    assert list(cloud.log) == []


@pytest.mark.parametrize(
    ("name", "mine"),
    [
        ("kube_service_jhub-test-q3x7k2m9w4ab_jhub_proxy-public", True),
        ("kube_service_jhub-test-q3x7k2m9w4ab-2_jhub_proxy-public", False),
        ("kube_service_jhub-test-q3x7k2m9w4ab_x_jhub_proxy-public", False),
        ("kube_service_jhub-test-q3x7k2m9w4ab_", False),
        ("kube_service_jhub-test_jhub_proxy-public", False),
        ("jhub-test_master_in", False),
    ],
)
def test_service_lb_names(name: str, mine: bool) -> None:
    assert delete.is_service_lb(name, "jhub-test-q3x7k2m9w4ab") is mine
