"""cluster.status: the table, and --watch until nothing is in progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from scripts.cluster import deploy, status
from scripts.core.console import Console
from tests.cluster.conftest import ENV, EnvFactory
from tests.support.fakecloud import FakeCloud


def test_table_shows_every_node_group_with_bounds(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    deploy.run(make_env(), Console(), clock=cloud.clock)
    before = len(cloud.mutating_calls())

    result = run_task("cluster.status", "--env", ENV)

    assert result.code == 0, result.err
    assert "cluster jhub-test: UPDATE_COMPLETE (health HEALTHY)" in result.out  # groups added
    rows = {line.split()[0]: line.split() for line in result.out.splitlines() if "│" in line}
    assert rows["gpu-worker"][:9] == [
        "gpu-worker", "│", "gpu", "│", "g1.large.a100", "│", "1", "│", "1..2",
    ]  # fmt: skip
    assert rows["default-worker"][8] == "1..5"
    assert "default-master" in rows and "highmem-worker" in rows
    assert len(cloud.mutating_calls()) == before


def test_watch_follows_a_creation_until_it_settles(
    cloud: FakeCloud, make_env: EnvFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    environment = make_env()
    cloud.settle_polls = None
    cloud.settle_seconds = 600
    cloud.add_cluster("jhub-test", status="CREATE_IN_PROGRESS")

    snapshot = status.run(environment, Console(), watch=True, clock=cloud.clock)

    assert snapshot is not None and snapshot.cluster["status"] == "CREATE_COMPLETE"
    out = capsys.readouterr().out
    assert out.count("cluster jhub-test: CREATE_IN_PROGRESS") == 1  # redrawn on change only
    assert "cluster jhub-test: CREATE_COMPLETE" in out
    assert 600 <= cloud.clock.now - 1000 < 700


def test_missing_cluster_and_existing_driver(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    make_env()
    missing = run_task("cluster.status", "--env", ENV)
    assert missing.code == 1 and "invoke cluster.deploy --env cloudtest" in missing.err

    make_env(cluster={"driver": "existing"})
    cloud.log.clear()
    existing = run_task("cluster.status", "--env", ENV)
    assert existing.code == 0 and "no Magnum cluster" in existing.out
    assert list(cloud.log) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [({}, "stack_id"), ({"driver": "heat", "image": "fedora-coreos-40"}, "uuid")],
    ids=["capi-helm", "heat"],
)
def test_status_names_the_cloud_provider_cluster_name(
    cloud: FakeCloud,
    make_env: EnvFactory,
    run_task: Callable[..., Any],
    changes: dict[str, str],
    field: str,
) -> None:
    """The <cluster> of kube_service_<cluster>_..., as the fake Magnum stored it."""
    deploy.run(make_env(cluster=changes), Console(), clock=cloud.clock)
    (record,) = cloud.clusters.values()

    result = run_task("cluster.status", "--env", ENV)

    assert result.code == 0, result.err
    text = " ".join(result.out.split())
    assert f"cloud-provider cluster name {record[field]} (the cluster's {field})" in text
    assert f"kube_service_{record[field]}_<namespace>_<service>" in text


def test_status_of_an_existing_cluster_names_the_configured_controller_name(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    make_env(cluster={"driver": "existing", "cloud_provider_cluster_name": "kubernetes"})
    result = run_task("cluster.status", "--env", ENV)
    assert result.code == 0, result.err
    text = " ".join(result.out.split())
    assert "cloud-provider cluster name kubernetes (cluster.cloud_provider_cluster_name)" in text
    assert list(cloud.log) == []
