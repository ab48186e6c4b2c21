"""local.up and local.down end to end: recording kind/docker executables (kind cannot run
here), the Kubernetes emulator as the kind cluster, and the recording helm."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from scripts import cross_area
from scripts.core import loading
from scripts.core.console import Console
from scripts.core.errors import BadInput, OperationFailed
from scripts.local import cloud_provider_kind, stack
from tests.conftest import ROOT, TaskRun
from tests.hub.conftest import running_hub
from tests.local.fake_tools import FakeTools, install
from tests.support.clock import FakeClock
from tests.support.components import free_port
from tests.support.fake_helm import FakeHelm
from tests.support.fakekube import FakeKube

Run = Callable[..., TaskRun]
CLUSTER = "jhub-local"
NODE = f"{CLUSTER}-control-plane"
ADDRESS = "172.18.0.7"


def kind_cluster_objects(kube: FakeKube) -> None:
    """What `kind create cluster` leaves behind: its node and storage class."""
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": NODE,
                "labels": {
                    "kubernetes.io/hostname": NODE,
                    "node-role.kubernetes.io/control-plane": "",
                    cloud_provider_kind.EXCLUDE_LABEL: "",
                },
            },
        }
    )
    kube.create(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": "standard",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": "rancher.io/local-path",
        }
    )
    # What the chart's pods and cloud-provider-kind would produce.
    running_hub(kube, ADDRESS)


@pytest.fixture
def tools(
    config_dir: Path,
    kube: FakeKube,
    fake_helm: FakeHelm,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> FakeTools:
    shutil.copy(ROOT / "config" / "local.yaml", config_dir / "local.yaml")
    # The committed config puts the kubeconfig into the checkout; tests keep it private.
    monkeypatch.setenv("JHUB__CLUSTER__KUBECONFIG", str(tmp_path / "local.kubeconfig"))
    fake = install(tmp_path / "bin", kube.kubeconfig_path)
    monkeypatch.setenv("PATH", f"{fake.home}{os.pathsep}{os.environ['PATH']}")
    kind_cluster_objects(kube)
    return fake


def monitoring_pods(kube: FakeKube) -> None:
    """What the Prometheus operator and the Grafana chart would start."""
    for name, app in (("prometheus-prometheus-0", "prometheus"), ("grafana-5d9c", "grafana")):
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name,
                    "namespace": "prometheus",
                    "labels": {"app.kubernetes.io/name": app},
                },
                "spec": {"containers": [{"name": app, "image": f"{app}:test"}]},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
            }
        )


def kubeconfig(tmp_path: Path) -> Path:
    return tmp_path / "local.kubeconfig"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ------------------------------------------------------------------ up


def test_up_from_nothing_creates_the_cluster_and_deploys_the_hub(  # noqa: PLR0917
    run_task: Run,
    tools: FakeTools,
    kube: FakeKube,
    fake_helm: FakeHelm,
    config_dir: Path,
    tmp_path: Path,
) -> None:
    result = run_task("local.up")

    assert result.code == 0, result.out + result.err
    kind_calls = tools.calls("kind")
    assert [call[:2] for call in kind_calls] == [
        ["get", "clusters"],
        ["create", "cluster"],
        ["export", "kubeconfig"],
    ]
    create = kind_calls[1]
    assert create[create.index("--name") + 1] == CLUSTER
    assert create[create.index("--kubeconfig") + 1] == str(kubeconfig(tmp_path))
    config = yaml.safe_load(tools.created_config())
    assert config["name"] == CLUSTER and config["kind"] == "Cluster"
    # Admin credentials and generated secrets are private to the user.
    assert mode(kubeconfig(tmp_path)) == 0o600
    secrets_path = config_dir / "local.secrets.yaml"
    assert mode(secrets_path) == 0o600
    assert loading.load("local", require_secrets=True).secrets is not None
    # cloud-provider-kind on the kind network, and the node open to its load balancers.
    assert tools.containers() == {cloud_provider_kind.CONTAINER: "running"}
    docker_run = next(call for call in tools.calls("docker") if call[0] == "run")
    assert docker_run[docker_run.index("--network") + 1] == "kind"
    assert cloud_provider_kind.IMAGE in docker_run
    node = kube.get("nodes", NODE)
    assert node is not None
    assert cloud_provider_kind.EXCLUDE_LABEL not in node["metadata"]["labels"]
    # The hub release, installed once, with the local config's dummy sign-in.
    upgrades = fake_helm.upgrades()
    assert len(upgrades) == 1
    assert upgrades[0]["argv"][2] == "jhub"
    assert "authenticator_class: dummy" in upgrades[0]["values_text"]
    # Where to go next.
    assert (
        f"kubectl --kubeconfig {kubeconfig(tmp_path)} -n jhub port-forward svc/proxy-public "
        "8080:80" in result.out
    )
    assert "http://127.0.0.1:8080/" in result.out
    assert f"load balancer address {ADDRESS}" in result.out


def test_a_second_up_reuses_everything_and_changes_nothing(
    run_task: Run, tools: FakeTools, kube: FakeKube, fake_helm: FakeHelm, config_dir: Path
) -> None:
    assert run_task("local.up").code == 0
    secrets_before = (config_dir / "local.secrets.yaml").read_text()
    tools.clear_calls()
    kube.clear_requests()

    again = run_task("local.up")

    assert again.code == 0, again.out + again.err
    assert [call[:2] for call in tools.calls("kind")] == [
        ["get", "clusters"],
        ["export", "kubeconfig"],
    ]
    assert not [call for call in tools.calls("docker") if call[0] in ("run", "start")]
    assert kube.mutating_requests() == []
    assert len(fake_helm.upgrades()) == 1
    assert (config_dir / "local.secrets.yaml").read_text() == secrets_before
    assert f"kind cluster {CLUSTER} — exists, reused" in again.out
    assert "unchanged, hub not restarted" in again.out


def test_a_stopped_load_balancer_container_is_started_not_recreated(
    run_task: Run, tools: FakeTools
) -> None:
    tools.set_container(cloud_provider_kind.CONTAINER, "exited")

    assert run_task("local.up").code == 0

    docker = [call[0] for call in tools.calls("docker")]
    assert "start" in docker and "run" not in docker
    assert tools.containers() == {cloud_provider_kind.CONTAINER: "running"}


def test_up_with_monitoring_deploys_both_releases_with_the_hub_open_to_prometheus(
    run_task: Run, tools: FakeTools, fake_helm: FakeHelm, kube: FakeKube
) -> None:
    monitoring_pods(kube)

    result = run_task("local.up", "--monitoring")

    assert result.code == 0, result.out + result.err
    releases = [call["argv"][2] for call in fake_helm.upgrades()]
    assert releases == ["jhub", "prometheus"]
    hub_values = yaml.safe_load(fake_helm.upgrades()[0]["values_text"])
    assert hub_values["hub"]["networkPolicy"]["interNamespaceAccessLabels"] == "accept"
    assert "JHUB__MONITORING__ENABLED=true" in result.out
    assert "Prometheus and Grafana ready" in result.out


def test_dry_run_from_nothing_changes_nothing(
    run_task: Run, tools: FakeTools, kube: FakeKube, fake_helm: FakeHelm, config_dir: Path
) -> None:
    result = run_task("local.up", "--dry-run")

    assert result.code == 0, result.out + result.err
    assert "would create kind cluster jhub-local" in result.out
    assert tools.clusters() == []
    assert not (config_dir / "local.secrets.yaml").exists()
    assert [call[0] for call in tools.calls("docker")] == ["info"]
    assert fake_helm.upgrades() == []
    assert kube.mutating_requests() == []


def test_dry_run_on_an_existing_cluster_compares_without_changing(
    run_task: Run, tools: FakeTools, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    assert run_task("local.up").code == 0
    tools.clear_calls()
    kube.clear_requests()

    result = run_task("local.up", "--dry-run", "--monitoring")

    assert result.code == 0, result.out + result.err
    assert "would install prometheus" in result.out
    assert len(fake_helm.upgrades()) == 1
    assert kube.mutating_requests() == []
    assert [call[:2] for call in tools.calls("kind")] == [["get", "clusters"]]


# ------------------------------------------------------------------ refusals


def test_missing_tools_are_named_before_anything_runs(
    run_task: Run, tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tools.home / "kind").unlink()
    monkeypatch.setenv("PATH", str(tools.home))

    result = run_task("local.up")

    assert result.code == 1
    assert "error: local.up needs kind on PATH" in result.err
    assert "kind.sigs.k8s.io" in result.err
    assert tools.calls() == []


def test_a_docker_daemon_that_does_not_answer_stops_local_up(
    run_task: Run, tools: FakeTools, fake_helm: FakeHelm
) -> None:
    tools.docker_fails(
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
        "Is the docker daemon running?"
    )

    result = run_task("local.up")

    assert result.code == 1
    assert "Cannot connect to the Docker daemon" in result.err
    assert "fix: check that the Docker daemon runs" in result.err
    assert tools.calls("kind") == []
    assert fake_helm.calls() == []


@pytest.mark.parametrize("args", [["--name", "jhub_local"], ["--monitoring", "--no-monitoring"]])
def test_bad_options_exit_2_before_any_command(
    run_task: Run, tools: FakeTools, args: list[str]
) -> None:
    result = run_task("local.up", *args)

    assert result.code == 2
    assert "error: option --" in result.err
    assert tools.calls() == []


def test_an_environment_for_a_cloud_cluster_is_refused(config_dir: Path) -> None:
    cloud = loading.load("example", require_secrets=False)
    with pytest.raises(BadInput, match=r"cluster\.driver: is 'capi-helm'"):
        stack.require_local(cloud)


def test_a_missing_storage_class_is_named_with_the_fix(
    run_task: Run, tools: FakeTools, kube: FakeKube
) -> None:
    kube.delete("storageclasses", "standard")

    result = run_task("local.up")

    assert result.code == 1
    assert "the kind cluster has no storage class 'standard'" in result.err
    assert "hub.storage.class_name" in result.err


def test_a_cluster_whose_node_is_stopped_gets_the_kind_remedy(
    tools: FakeTools, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    # `kind get clusters` lists it, but nothing answers at its API server's address.
    tools.add_cluster(CLUSTER)
    handed_out = yaml.safe_load((tools.home / "cluster.kubeconfig").read_text())
    handed_out["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{free_port()}"
    (tools.home / "cluster.kubeconfig").write_text(yaml.safe_dump(handed_out))
    environment = loading.load("local", require_secrets=False)
    clock = FakeClock()

    with pytest.raises(OperationFailed) as failed:
        cross_area.local_up(environment, Console(), stack.UpOptions(clock=clock))

    assert failed.value.cause.startswith("Kubernetes API: list nodes failed")
    assert f"docker start {CLUSTER}-control-plane" in failed.value.remedy
    assert clock.sleeps, "connection errors are retried (on the injected clock) first"
    assert fake_helm.calls() == []


# ------------------------------------------------------------------ down


def test_down_needs_yes_and_then_deletes_cluster_and_load_balancer_container(
    run_task: Run, tools: FakeTools
) -> None:
    assert run_task("local.up").code == 0

    refused = run_task("local.down")
    assert refused.code == 2
    assert "error: option --yes: required to delete the kind cluster jhub-local" in refused.err
    assert tools.clusters() == [CLUSTER]

    done = run_task("local.down", "--yes")
    assert done.code == 0, done.err
    assert tools.clusters() == []
    assert tools.containers() == {}
    docker = [call[:1] for call in tools.calls("docker")]
    # Stopped first, so it can remove its Envoy containers, then removed.
    assert docker[-2:] == [["stop"], ["rm"]]


def test_down_keeps_the_load_balancer_container_for_other_kind_clusters(
    run_task: Run, tools: FakeTools
) -> None:
    assert run_task("local.up").code == 0
    tools.add_cluster("someone-elses")

    done = run_task("local.down", "--yes")

    assert done.code == 0, done.err
    assert tools.clusters() == ["someone-elses"]
    assert tools.containers() == {cloud_provider_kind.CONTAINER: "running"}
    assert "kept: it serves the kind clusters someone-elses" in done.out


def test_down_without_a_cluster_has_nothing_to_confirm(run_task: Run, tools: FakeTools) -> None:
    result = run_task("local.down")

    assert result.code == 0, result.err
    assert f"kind cluster {CLUSTER} — not there" in result.out
    assert not [call for call in tools.calls("kind") if call[0] == "delete"]


def test_down_dry_run_deletes_nothing(run_task: Run, tools: FakeTools) -> None:
    assert run_task("local.up").code == 0

    result = run_task("local.down", "--dry-run")

    assert result.code == 0, result.err
    assert "would delete kind cluster jhub-local" in result.out
    assert "would docker stop jhub-cloud-provider-kind" in result.out
    assert tools.clusters() == [CLUSTER]
    assert tools.containers() == {cloud_provider_kind.CONTAINER: "running"}
