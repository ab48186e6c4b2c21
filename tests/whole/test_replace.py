"""`cluster.replace` on the fakes: the fake cloud's Magnum, one Kubernetes emulator per
cluster, the recording helm with release records per cluster.

What this version does: the new cluster and its releases, recorded step by step so that an
interrupted run continues; then it stops before moving users (not automated yet).
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from scripts import replace
from scripts.cluster import deploy as cluster_deploy
from scripts.core import loading
from scripts.core.console import Console
from scripts.core.errors import BadInput, OperationFailed
from scripts.orchestrate import buffered_console
from tests.cluster.conftest import CLUSTER, merge
from tests.conftest import TaskRun
from tests.support.fake_helm import FakeHelm
from tests.support.fakecloud import FakeCloud
from tests.support.fakekube import FakeKube
from tests.whole.test_deploy_drivers import seed

ENV = "drivers"
OLD, NEW = "jhub-test", "jhub-new"


@pytest.fixture
def new_kube(tmp_path: Path) -> Iterator[FakeKube]:
    folder = tmp_path / "new-kube"
    folder.mkdir()
    emulator = FakeKube(folder)
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture
def old_env(  # noqa: PLR0917 - pytest passes fixtures by name
    config_dir: Path,
    run_task: Callable[..., TaskRun],
    kube: FakeKube,
    new_kube: FakeKube,
    fake_cloud: FakeCloud,
    fake_helm: FakeHelm,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> loading.Environment:
    """A capi-helm environment whose cluster OLD exists (on `kube`), with its releases."""
    fake_cloud.clouds_yaml(tmp_path, monkeypatch)
    assert run_task("config.init", "--env", ENV).code == 0
    path = config_dir / f"{ENV}.yaml"
    config = yaml.safe_load(path.read_text())
    config["cloud"] = "fake"
    config["cluster"] = merge(CLUSTER, {"driver": "capi-helm", "name": OLD})
    config["hub"]["floating_ip"] = None
    path.write_text(yaml.safe_dump(config))
    secrets_path = config_dir / f"{ENV}.secrets.yaml"
    secrets = yaml.safe_load(secrets_path.read_text())
    secrets["oauth_client_secret"] = "client-secret-for-tests"
    secrets_path.write_text(yaml.safe_dump(secrets))
    environment = loading.load(ENV)
    fake_cloud.api_address_for[OLD] = kube.url
    fake_cloud.api_address_for[NEW] = new_kube.url
    assert cluster_deploy.run(
        environment, Console(), clock=fake_cloud.clock, connection=fake_cloud.conn
    )
    seed(kube, "capi-helm")
    seed(new_kube, "capi-helm")
    fake_helm.leave("jhub", "jhub", ["deployed"], chart="jupyterhub", version="4.4.0")
    fake_helm.separate(config_dir / f"{ENV}.{NEW}.kubeconfig", "new")
    return environment


def clusters_named(cloud: FakeCloud, name: str) -> int:
    return sum(1 for c in cloud.clusters.values() if c["name"] == name)


def run(environment: loading.Environment, cloud: FakeCloud, *, dry_run: bool = False) -> None:
    replace.run(
        environment,
        Console(),
        new_name=NEW,
        dry_run=dry_run,
        clock=cloud.clock,
        connection=cloud.conn,
    )


def new_releases(fake_helm: FakeHelm) -> list[str]:
    return sorted(r["name"] for r in fake_helm.releases("new").values())


def finish(environment: loading.Environment, cloud: FakeCloud) -> OperationFailed:
    with pytest.raises(OperationFailed) as stopped:
        run(environment, cloud)
    return stopped.value


def test_the_new_cluster_and_its_releases_then_a_stop_before_users_data(
    old_env: loading.Environment,
    fake_cloud: FakeCloud,
    fake_helm: FakeHelm,
    kube: FakeKube,
    config_dir: Path,
) -> None:
    old_before = fake_helm.releases()
    kube.clear_requests()

    stopped = finish(old_env, fake_cloud)
    assert f"the new cluster {NEW} is ready with its releases" in stopped.cause
    assert f"{OLD} still serves every user" in stopped.cause
    assert "docs/data.md" in stopped.remedy and "hub.volumes-adopt" in stopped.remedy
    assert clusters_named(fake_cloud, OLD) == 1
    assert clusters_named(fake_cloud, NEW) == 1
    assert new_releases(fake_helm) == ["blackbox", "jhub", "prometheus"]
    # The old cluster is not touched: no write to its API, its releases as they were.
    assert kube.mutating_requests() == []
    assert fake_helm.releases() == old_before
    state = config_dir / f"{ENV}.state" / "replace.json"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    recorded = json.loads(state.read_text())
    assert recorded["from"] == OLD and recorded["to"] == NEW
    assert sorted(recorded["done"]) == ["new cluster", "releases on the new cluster"]
    kubeconfig = config_dir / f"{ENV}.{NEW}.kubeconfig"
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    assert (
        yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        == (fake_cloud.api_address_for[NEW])
    )

    # A second run repeats nothing: the recorded steps are not even looked at again.
    calls = len(fake_helm.calls())
    fake_cloud.log.clear()
    console, output = buffered_console()
    with pytest.raises(OperationFailed) as again:
        replace.run(
            old_env, console, new_name=NEW, clock=fake_cloud.clock, connection=fake_cloud.conn
        )
    assert again.value.cause == stopped.cause
    assert output.getvalue().count("done earlier") == 2
    assert fake_cloud.log.mutating_calls() == []
    assert len(fake_helm.calls()) == calls


def test_interrupted_in_the_cluster_step_a_re_run_makes_one_cluster(
    old_env: loading.Environment, fake_cloud: FakeCloud, fake_helm: FakeHelm
) -> None:
    # Magnum keeps failing the certificate signing: the kubeconfig cannot be written.
    fake_cloud.fail_request("POST", r"/certificates", kind="503", times=50)
    with pytest.raises(OperationFailed):
        run(old_env, fake_cloud)
    assert clusters_named(fake_cloud, NEW) == 1
    assert new_releases(fake_helm) == []
    fake_cloud.clear_faults()

    finish(old_env, fake_cloud)
    assert clusters_named(fake_cloud, NEW) == 1
    assert new_releases(fake_helm) == ["blackbox", "jhub", "prometheus"]


def test_interrupted_in_the_releases_step_a_re_run_finishes_them_once(
    old_env: loading.Environment, fake_cloud: FakeCloud, fake_helm: FakeHelm, config_dir: Path
) -> None:
    fake_helm.fail_release("jhub", "Error: UPGRADE FAILED: context deadline exceeded\n")
    with pytest.raises(OperationFailed) as failed:
        run(old_env, fake_cloud)
    assert "releases failed on jhub-new: hub" in failed.value.cause
    recorded = json.loads((config_dir / f"{ENV}.state" / "replace.json").read_text())
    assert sorted(recorded["done"]) == ["new cluster"]
    fake_helm.heal("upgrade-jhub")

    finish(old_env, fake_cloud)
    assert clusters_named(fake_cloud, NEW) == 1
    assert new_releases(fake_helm) == ["blackbox", "jhub", "prometheus"]


def test_a_dry_run_changes_nothing(
    old_env: loading.Environment, fake_cloud: FakeCloud, fake_helm: FakeHelm, config_dir: Path
) -> None:
    fake_cloud.log.clear()
    run(old_env, fake_cloud, dry_run=True)
    assert fake_cloud.log.mutating_calls() == []
    assert clusters_named(fake_cloud, NEW) == 0
    assert new_releases(fake_helm) == []
    assert not (config_dir / f"{ENV}.state" / "replace.json").exists()


def test_bad_targets_are_refused_before_any_call(
    old_env: loading.Environment, fake_cloud: FakeCloud, config_dir: Path
) -> None:
    fake_cloud.log.clear()
    for name, message in ((OLD, "is the current cluster.name"), ("No_Such", "not a cluster name")):
        with pytest.raises(BadInput) as refused:
            replace.run(old_env, Console(), new_name=name, connection=fake_cloud.conn)
        assert message in str(refused.value.problems[0])
    # A replacement under way is finished with the same --to.
    state = config_dir / f"{ENV}.state" / "replace.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"from": OLD, "to": "jhub-other", "done": {}}))
    with pytest.raises(BadInput) as under_way:
        run(old_env, fake_cloud)
    assert "re-run with --to jhub-other" in str(under_way.value.problems[0])
    assert fake_cloud.log.mutating_calls() == []


def test_the_task_wants_to(run_task: Callable[..., TaskRun], config_dir: Path) -> None:
    result = run_task("cluster.replace", "--env", "example")
    assert result.code == 2
    assert "option --to: needs the new cluster's name" in result.err
