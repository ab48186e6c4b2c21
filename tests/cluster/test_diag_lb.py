"""cluster.diag-lb: Octavia LB <cluster>_master_in to the masters on 22 and 6443."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from scripts.cluster import deploy, diag_lb
from scripts.cluster.magnum import Magnum
from scripts.core import cloud as core_cloud
from scripts.core.changes import Changes
from scripts.core.console import Console
from scripts.core.errors import OperationFailed
from scripts.core.loading import Environment
from tests.cluster.conftest import ENV, EnvFactory
from tests.support.fakecloud import FakeCloud

LB = "jhub-test_master_in"


def ensure_lb(cloud: FakeCloud, environment: Environment, dry_run: bool = False) -> None:
    magnum = Magnum(core_cloud.connect(environment.settings), cloud.clock)
    ui = Console()
    diag_lb.run(magnum, environment.settings.cluster.name, ui, Changes(ui, dry_run), ENV)


def masters(cloud: FakeCloud) -> list[str]:
    group = next(g for g in cloud.nodegroups.values() if g["name"] == "default-master")
    return list(group["node_addresses"])


def layout(cloud: FakeCloud) -> dict[int, list[tuple[str, int]]]:
    """port -> sorted (member address, member port) of the diagnostic LB."""
    [lb] = [b for b in cloud.load_balancers.values() if b["name"] == LB]
    result = {}
    for listener in cloud.listeners.values():
        if listener["_lb"] != lb["id"]:
            continue
        assert listener["protocol"] == "TCP"
        pool = cloud.pools[listener["default_pool_id"]]
        result[listener["protocol_port"]] = sorted(
            (m["address"], m["protocol_port"])
            for m in cloud.members.values()
            if m["_pool"] == pool["id"]
        )
    return result


@pytest.fixture
def three_masters(cloud: FakeCloud, make_env: EnvFactory) -> Environment:
    environment = make_env(cluster={"master_count": 3})
    deploy.run(environment, Console(), clock=cloud.clock)
    return environment


def test_creates_listeners_pools_and_master_members_once(
    cloud: FakeCloud, three_masters: Environment
) -> None:
    ensure_lb(cloud, three_masters)

    addresses = masters(cloud)
    assert len(addresses) == 3
    assert layout(cloud) == {port: sorted((a, port) for a in addresses) for port in (22, 6443)}
    [lb] = [b for b in cloud.load_balancers.values() if b["name"] == LB]
    assert lb["provisioning_status"] == "ACTIVE"
    private = next(s for s in cloud.subnets.values() if s["name"] == "private-subnet")
    assert lb["vip_subnet_id"] == private["id"]
    # Octavia answered 409 to nothing: every change waited for ACTIVE first.
    assert not [r for r in cloud.log if r.service == "octavia" and r.status == 409]

    before = len(cloud.mutating_calls())
    ensure_lb(cloud, three_masters)
    assert len(cloud.mutating_calls()) == before


def test_a_replaced_master_is_swapped_in_both_pools(
    cloud: FakeCloud, three_masters: Environment
) -> None:
    ensure_lb(cloud, three_masters)
    # capi-helm reports no master_addresses; its masters are the Cluster API machines
    # `<stack_id>-control-plane-*` in Nova. Machine health checks replaced one of them.
    (cluster,) = cloud.clusters.values()
    prefix = f"{cluster['stack_id']}-control-plane-"
    gone = sorted(s["name"] for s in cloud.servers.values() if s["name"].startswith(prefix))[0]
    old = next(s for s in cloud.servers.values() if s["name"] == gone)["addresses"]["private"][0][
        "addr"
    ]
    cloud.remove_server(gone)
    cloud.add_server(f"{prefix}9", address="10.0.0.200")

    ensure_lb(cloud, three_masters)

    for members in layout(cloud).values():
        addresses = [address for address, _ in members]
        assert "10.0.0.200" in addresses and old not in addresses and len(addresses) == 3


def test_dry_run_creates_nothing(
    cloud: FakeCloud, three_masters: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    before = len(cloud.mutating_calls())
    ensure_lb(cloud, three_masters, dry_run=True)
    assert len(cloud.mutating_calls()) == before
    assert f"would create load balancer {LB}" in capsys.readouterr().out


def test_deploy_creates_it_when_configured(cloud: FakeCloud, make_env: EnvFactory) -> None:
    deploy.run(make_env(cluster={"diagnostic_lb": True}), Console(), clock=cloud.clock)
    assert set(layout(cloud)) == {22, 6443}


def test_a_load_balancer_in_error_is_reported(cloud: FakeCloud, three_masters: Environment) -> None:
    cloud.fail_next("load_balancer", "amphora boot failed", name=LB)
    with pytest.raises(OperationFailed) as failure:
        ensure_lb(cloud, three_masters)
    assert f"load balancer {LB} went into ERROR" in failure.value.cause
    assert "openstack loadbalancer delete --cascade" in failure.value.remedy


def test_task_refuses_existing_driver(make_env: EnvFactory, run_task: Callable[..., Any]) -> None:
    make_env(cluster={"driver": "existing"})
    result = run_task("cluster.diag-lb", "--env", ENV)
    assert result.code == 2 and "cluster.driver: 'existing'" in result.err
