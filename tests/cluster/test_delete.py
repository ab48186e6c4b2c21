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
OURS = "kube_service_jhub-test_jhub_proxy-public"
GRAFANA = "kube_service_jhub-test_prometheus_grafana"
OTHER_CLUSTER = "kube_service_jhub-test-2_jhub_proxy-public"
UNDERSCORED = "kube_service_jhub-test_x_jhub_proxy-public"  # cluster "jhub-test_x"


def cpo_description(service: str, cluster: str = "jhub-test") -> str:
    return f"Floating IP for Kubernetes external service {service} from cluster {cluster}"


@pytest.fixture
def landscape(cloud: FakeCloud, make_env: EnvFactory) -> Environment:
    """A deployed cluster, its Service LBs with floating IPs, and other clusters' LBs."""
    environment = make_env(hub={"floating_ip": PINNED}, cluster={"diagnostic_lb": True})
    deploy.run(environment, Console(), clock=cloud.clock)
    hub = cloud.add_load_balancer(OURS, listeners=[("TCP", 443)], members=["10.0.0.20"])
    cloud.add_floating_ip(PINNED, description="jupyter.example.org", port_id=hub["vip_port_id"])
    grafana = cloud.add_load_balancer(GRAFANA, listeners=[("TCP", 80)])
    cloud.add_floating_ip(
        description=cpo_description("prometheus/grafana"), port_id=grafana["vip_port_id"]
    )
    for name in (OTHER_CLUSTER, UNDERSCORED):
        cloud.add_load_balancer(name, listeners=[("TCP", 443)])
    cloud.settle_all()
    return environment


def lb_names(cloud: FakeCloud) -> set[str]:
    return {lb["name"] for lb in cloud.load_balancers.values()}


def test_without_yes_it_lists_and_stops(
    cloud: FakeCloud, landscape: Environment, run_task: Callable[..., Any]
) -> None:
    before = len(cloud.mutating_calls())

    result = run_task("cluster.delete", "--env", ENV)

    assert result.code == 2
    assert "option --yes: required" in result.err
    for name in (OURS, GRAFANA, "jhub-test_master_in", "cluster jhub-test"):
        assert name in result.out
    assert PINNED in result.out
    assert OTHER_CLUSTER not in result.out and UNDERSCORED not in result.out
    assert len(cloud.mutating_calls()) == before


def test_dry_run_deletes_nothing(
    cloud: FakeCloud, landscape: Environment, run_task: Callable[..., Any]
) -> None:
    before = len(cloud.mutating_calls())
    result = run_task("cluster.delete", "--env", ENV, "--dry-run")
    assert result.code == 0, result.err
    assert f"would delete load balancer {OURS}" in result.out
    assert len(cloud.mutating_calls()) == before


def test_yes_deletes_service_lbs_then_the_cluster(
    cloud: FakeCloud, landscape: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    start = len(cloud.log)
    grafana_ip = next(
        ip["floating_ip_address"]
        for ip in cloud.floating_ips.values()
        if ip["description"].startswith("Floating IP for Kubernetes")
    )

    delete.run(landscape, Console(), yes=True, clock=cloud.clock)

    assert lb_names(cloud) == {OTHER_CLUSTER, UNDERSCORED}
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
        (OURS, True),
        (OTHER_CLUSTER, False),
        (UNDERSCORED, False),
        ("kube_service_jhub-test_", False),
        ("jhub-test_master_in", False),
    ],
)
def test_service_lb_names(name: str, mine: bool) -> None:
    assert delete.is_service_lb(name, "jhub-test") is mine
