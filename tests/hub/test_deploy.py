"""hub.deploy and hub.uninstall end to end: kmock for Kubernetes, the fake cloud for
Neutron and Octavia, and the recording helm (a real install cannot run on the emulator)."""

from __future__ import annotations

import base64
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.core import loading
from scripts.core.console import Console
from scripts.core.errors import OperationFailed
from scripts.core.templates import render
from scripts.hub import deploy
from tests.conftest import TaskRun
from tests.hub import environments
from tests.hub.conftest import ready_pod, running_hub, use_kubeconfig
from tests.support.fake_helm import FakeHelm
from tests.support.fakecloud import FakeCloud
from tests.support.fakekube import FakeKube

ENV = "dev"
ADDRESS = "203.0.113.50"
Run = Callable[..., TaskRun]


@dataclass
class HubEnv:
    folder: Path
    config: dict[str, Any]
    secrets: dict[str, Any]

    def change(self, edit: Callable[[dict[str, Any]], None]) -> None:
        edit(self.config)
        (self.folder / f"{ENV}.yaml").write_text(yaml.safe_dump(self.config, sort_keys=False))

    def change_secret(self, key: str, value: str) -> None:
        self.secrets[key] = value
        environments.write(self.folder, ENV, self.config, self.secrets)


@pytest.fixture
def hub_env(  # noqa: PLR0917 - pytest passes fixtures by name
    config_dir: Path,
    kube: FakeKube,
    fake_helm: FakeHelm,
    fake_cloud: FakeCloud,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> HubEnv:
    fake_cloud.clouds_yaml(tmp_path, monkeypatch)
    # The Magnum cluster the hub runs on (capi-helm, as the example config says).
    fake_cloud.add_cluster("jhub-example")
    config = environments.example()
    config["cloud"] = "fake"
    config["hub"]["floating_ip"] = ADDRESS
    secrets = environments.write(config_dir, ENV, config)
    use_kubeconfig(kube, config_dir, ENV)
    running_hub(kube, ADDRESS)
    return HubEnv(config_dir, config, secrets)


@pytest.fixture
def free_ip(fake_cloud: FakeCloud) -> dict[str, Any]:
    return fake_cloud.add_floating_ip(ADDRESS)


def rendered_values(hub_env: HubEnv) -> dict[str, Any]:
    environment = loading.load(ENV)
    assert environment.secrets is not None
    return render("jupyterhub", environment.settings, environment.secrets).values


# ------------------------------------------------------------------ install, no-op, upgrade


@pytest.mark.usefixtures("free_ip")
def test_first_run_installs_and_second_run_changes_nothing(
    run_task: Run, hub_env: HubEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    first = run_task("hub.deploy", "--env", ENV)
    assert first.code == 0, first.err
    (upgrade,) = fake_helm.upgrades()
    argv = upgrade["argv"]
    assert argv[:4] == ["upgrade", "--install", "jhub", "jupyterhub"]
    assert argv[argv.index("--repo") + 1] == "https://hub.jupyter.org/helm-chart"
    assert argv[argv.index("--version") + 1] == "4.4.0"
    assert argv[argv.index("--namespace") + 1] == "jhub"
    assert argv[argv.index("--timeout") + 1] == "900s"
    assert "--wait" in argv
    assert upgrade["values_mode"] == 0o600
    assert not Path(upgrade["values_path"]).exists()
    assert yaml.safe_load(upgrade["values_text"]) == rendered_values(hub_env)
    token = hub_env.secrets["proxy_secret_token"]
    assert not any(token in arg for arg in argv)
    assert token not in first.out + first.err
    assert kube.get("namespaces", "jhub") is not None
    storage = kube.get("storageclasses", "cinder-storage")
    assert storage is not None and storage["provisioner"] == "cinder.csi.openstack.org"
    assert "https://jupyter.example.org/" in first.out
    assert ADDRESS in first.out
    assert "allocated and not attached" in first.out

    kube.clear_requests()
    second = run_task("hub.deploy", "--env", ENV)
    assert second.code == 0, second.err
    assert len(fake_helm.upgrades()) == 1
    assert kube.mutating_requests() == []
    assert "unchanged, hub not restarted" in second.out
    assert "hub restarts" not in second.err


@pytest.mark.usefixtures("free_ip")
def test_changed_config_upgrades_once_and_says_what_changed(
    run_task: Run, hub_env: HubEnv, fake_helm: FakeHelm
) -> None:
    assert run_task("hub.deploy", "--env", ENV).code == 0
    hub_env.change(lambda c: c["hub"]["culling"].update(timeout_seconds=3600))

    changed = run_task("hub.deploy", "--env", ENV)
    assert changed.code == 0, changed.err
    assert len(fake_helm.upgrades()) == 2
    assert "cull.timeout: 86400 → 3600" in changed.out
    assert "1 value(s) changed" in changed.out
    assert "hub restarts, about a minute of downtime" in changed.err
    assert yaml.safe_load(fake_helm.upgrades()[-1]["values_text"])["cull"]["timeout"] == 3600

    again = run_task("hub.deploy", "--env", ENV)
    assert again.code == 0
    assert len(fake_helm.upgrades()) == 2


@pytest.mark.usefixtures("free_ip")
def test_a_changed_secret_is_masked_in_the_diff(
    run_task: Run, hub_env: HubEnv, fake_helm: FakeHelm
) -> None:
    assert run_task("hub.deploy", "--env", ENV).code == 0
    old = hub_env.secrets["proxy_secret_token"]
    new = "ab" * 32
    hub_env.change_secret("proxy_secret_token", new)
    result = run_task("hub.deploy", "--env", ENV)
    assert result.code == 0, result.err
    assert "proxy.secretToken: «masked» → «masked»" in result.out
    assert old not in result.out + result.err
    assert new not in result.out + result.err
    assert len(fake_helm.upgrades()) == 2


@pytest.mark.usefixtures("free_ip")
def test_a_new_chart_version_upgrades_even_with_equal_values(
    run_task: Run, hub_env: HubEnv, fake_helm: FakeHelm
) -> None:
    assert run_task("hub.deploy", "--env", ENV).code == 0
    hub_env.change(lambda c: c["hub"]["chart"].update(version="4.4.1"))
    result = run_task("hub.deploy", "--env", ENV)
    assert result.code == 0, result.err
    assert "chart 4.4.0 → 4.4.1" in result.out
    assert len(fake_helm.upgrades()) == 2


@pytest.mark.usefixtures("free_ip")
def test_dry_run_reads_everything_and_changes_nothing(
    run_task: Run, hub_env: HubEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    kube.clear_requests()
    result = run_task("hub.deploy", "--env", ENV, "--dry-run")
    assert result.code == 0, result.err
    assert "would create Namespace jhub" in result.out
    assert "would helm upgrade --install jhub jupyterhub 4.4.0" in result.out
    assert fake_helm.upgrades() == []
    assert kube.mutating_requests() == []
    assert kube.get("namespaces", "jhub") is None


def test_an_operator_can_decline_the_restart(
    run_task: Run, hub_env: HubEnv, fake_helm: FakeHelm, free_ip: dict[str, Any]
) -> None:
    assert run_task("hub.deploy", "--env", ENV).code == 0
    hub_env.change(lambda c: c["hub"]["placeholders"].update(replicas=2))
    questions: list[str] = []

    def answer_no(question: str) -> str:
        questions.append(question)
        return "n"

    outcome = deploy.run(loading.load(ENV), Console(), deploy.Options(ask=answer_no))
    assert questions == ["Upgrade jhub now? [y/N] "]
    assert outcome.skipped_reason == "declined"
    assert len(fake_helm.upgrades()) == 1

    outcome = deploy.run(loading.load(ENV), Console(), deploy.Options(ask=lambda q: "yes"))
    assert outcome.upgraded
    assert len(fake_helm.upgrades()) == 2


# ------------------------------------------------------------------ refusing


def test_floating_ip_on_another_port_stops_before_any_change(
    run_task: Run, hub_env: HubEnv, kube: FakeKube, fake_helm: FakeHelm, fake_cloud: FakeCloud
) -> None:
    server_port = fake_cloud.add_port("someone-elses-vm", network="private")
    fake_cloud.add_floating_ip(ADDRESS, port_id=server_port["id"])
    kube.clear_requests()
    result = run_task("hub.deploy", "--env", ENV)
    assert result.code == 1
    assert f"floating IP {ADDRESS} (hub.floating_ip) is attached to port" in result.err
    assert "openstack floating ip unset" in result.err
    assert "Traceback" not in result.err
    assert fake_helm.upgrades() == []
    assert kube.mutating_requests() == []
    assert fake_cloud.mutating_calls() == []


def test_unallocated_floating_ip_is_named(
    run_task: Run, hub_env: HubEnv, fake_helm: FakeHelm
) -> None:
    result = run_task("hub.deploy", "--env", ENV)
    assert result.code == 1
    assert "is not allocated in this project" in result.err
    assert "openstack floating ip create --floating-ip-address 203.0.113.50 External" in result.err
    assert fake_helm.upgrades() == []


def test_a_second_deploy_finds_the_pinned_ip_on_the_load_balancer_named_by_stack_id(
    run_task: Run, hub_env: HubEnv, fake_helm: FakeHelm, fake_cloud: FakeCloud
) -> None:
    """After the first deploy the controller has moved the pinned address onto the load
    balancer it named after its --cluster-name, the capi-helm cluster's stack_id, and left
    the address's own description alone."""
    (cluster,) = fake_cloud.clusters.values()
    assert cluster["stack_id"].startswith("jhub-example-")  # <name[:30]>-<12 characters>
    name = f"kube_service_{cluster['stack_id']}_jhub_proxy-public"
    balancer = fake_cloud.add_load_balancer(name, listeners=[("TCP", 443)])
    fake_cloud.add_floating_ip(ADDRESS, port_id=balancer["vip_port_id"])
    result = run_task("hub.deploy", "--env", ENV)
    assert result.code == 0, result.err
    assert "already on this hub's load balancer" in result.out
    assert len(fake_helm.upgrades()) == 1


def test_a_load_balancer_named_after_the_magnum_name_is_not_the_hubs(
    run_task: Run, hub_env: HubEnv, fake_helm: FakeHelm, fake_cloud: FakeCloud
) -> None:
    balancer = fake_cloud.add_load_balancer(
        "kube_service_jhub-example_jhub_proxy-public", listeners=[("TCP", 443)]
    )
    fake_cloud.add_floating_ip(ADDRESS, port_id=balancer["vip_port_id"])
    result = run_task("hub.deploy", "--env", ENV)
    assert result.code == 1
    assert "not to this hub's load balancer" in result.err
    assert fake_helm.upgrades() == []


@pytest.mark.usefixtures("free_ip")
def test_a_passing_neutron_hiccup_is_retried(
    run_task: Run, hub_env: HubEnv, fake_helm: FakeHelm, fake_cloud: FakeCloud
) -> None:
    fake_cloud.fail_request("GET", r"/floatingips", kind="503", times=1)
    result = run_task("hub.deploy", "--env", ENV)
    assert result.code == 0, result.err
    assert fake_cloud.count("GET", r"/floatingips") == 2
    assert len(fake_helm.upgrades()) == 1


@pytest.mark.usefixtures("free_ip")
def test_helm_failure_is_one_line_with_secrets_redacted(
    run_task: Run, hub_env: HubEnv, fake_helm: FakeHelm
) -> None:
    token = hub_env.secrets["proxy_secret_token"]
    fake_helm.fail("upgrade", f"Error: UPGRADE FAILED: render error near {token}\n")
    result = run_task("hub.deploy", "--env", ENV)
    assert result.code == 1
    assert "UPGRADE FAILED" in result.err
    assert token not in result.err
    assert "Traceback" not in result.err


def test_a_hub_pod_that_cannot_start_is_named(
    hub_env: HubEnv, kube: FakeKube, free_ip: dict[str, Any]
) -> None:
    kube.delete("pods", "hub-7c9d", "jhub")
    broken = ready_pod("hub-8a1e", "hub")
    broken["status"] = {
        "phase": "Pending",
        "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [
            {
                "name": "hub",
                "image": "hub:test",
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {"waiting": {"reason": "InvalidImageName"}},
            }
        ],
    }
    kube.create(broken)
    environment = loading.load(ENV)
    with pytest.raises(OperationFailed, match=r"pod hub-8a1e cannot start \(InvalidImageName\)"):
        deploy.run(environment, Console(), deploy.Options())


# ------------------------------------------------------------------ certificate backup


def acme_secret(payload: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": "proxy-public-tls-acme",
            "namespace": "jhub",
            "labels": {"app": "jupyterhub", "component": "autohttps"},
        },
        "data": {"acme.json": base64.b64encode(payload).decode()},
    }


@pytest.mark.usefixtures("free_ip")
def test_certificate_survives_uninstall_and_reinstall(
    run_task: Run, hub_env: HubEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    assert run_task("hub.deploy", "--env", ENV).code == 0
    payload = b'{"letsencrypt": {"Certificates": [{"domain": {"main": "jupyter.example.org"}}]}}'
    kube.create(acme_secret(payload))

    # The database backup taken first is tested in test_backup.py (it needs a real hub).
    removed = run_task("hub.uninstall", "--env", ENV, "--yes", "--no-backup")
    assert removed.code == 0, removed.err
    assert "No hub backup (--no-backup)" in removed.out
    assert fake_helm.releases() == {}
    backup = hub_env.folder / f"{ENV}.tls-backup.yaml"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    saved = yaml.safe_load(backup.read_text())
    assert base64.b64decode(saved["data"]["acme.json"]) == payload

    # The namespace went with the hub (or the cluster was rebuilt): the secret is gone.
    kube.delete("secrets", "proxy-public-tls-acme", "jhub")
    again = run_task("hub.deploy", "--env", ENV)
    assert again.code == 0, again.err
    assert "restored from" in again.out
    restored = kube.get("secrets", "proxy-public-tls-acme", "jhub")
    assert restored is not None
    assert base64.b64decode(restored["data"]["acme.json"]) == payload
    assert restored["metadata"]["labels"]["component"] == "autohttps"
    assert len(fake_helm.upgrades()) == 2

    # A certificate already in the cluster is never overwritten by an older backup.
    kube.clear_requests()
    third = run_task("hub.deploy", "--env", ENV)
    assert third.code == 0
    assert kube.mutating_requests() == []


@pytest.mark.usefixtures("free_ip")
def test_uninstall_wants_yes_when_nobody_can_confirm(
    run_task: Run, hub_env: HubEnv, fake_helm: FakeHelm
) -> None:
    assert run_task("hub.deploy", "--env", ENV).code == 0
    result = run_task("hub.uninstall", "--env", ENV)
    assert result.code == 2
    assert "option --yes" in result.err
    assert "uninstall" not in fake_helm.commands()
    assert not (hub_env.folder / f"{ENV}.tls-backup.yaml").exists()


@pytest.mark.usefixtures("free_ip")
def test_uninstall_dry_run_says_what_it_would_delete(
    run_task: Run, hub_env: HubEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    assert run_task("hub.deploy", "--env", ENV).code == 0
    kube.create(acme_secret(b"{}"))
    result = run_task("hub.uninstall", "--env", ENV, "--dry-run")
    assert result.code == 0, result.err
    assert "hub database" in result.out
    assert "would back up Secret jhub/proxy-public-tls-acme" in result.out
    assert "would back up the hub (database, session secrets, certificate) to" in result.out
    assert not (hub_env.folder / f"{ENV}.backups").exists()
    assert "would helm uninstall jhub --namespace jhub" in result.out
    assert "uninstall" not in fake_helm.commands()
    assert not (hub_env.folder / f"{ENV}.tls-backup.yaml").exists()


# ------------------------------------------------------------------ release state


@pytest.mark.usefixtures("free_ip")
def test_a_pending_release_stops_before_helm_with_its_history(
    run_task: Run, hub_env: HubEnv, fake_helm: FakeHelm
) -> None:
    assert run_task("hub.deploy", "--env", ENV).code == 0
    fake_helm.set_status("jhub", "jhub", "pending-upgrade")
    hub_env.change(lambda c: c["hub"]["culling"].update(timeout_seconds=3600))

    result = run_task("hub.deploy", "--env", ENV)

    assert result.code == 1
    assert "release jhub/jhub is pending-upgrade (revision 1" in result.err
    assert "invoke hub.deploy --env dev --recover --yes" in result.err
    # Never deployed: revision 1 itself is the pending one.
    assert "helm uninstall jhub --namespace jhub" in result.err
    assert "helm history jhub --namespace jhub" in result.out
    assert len(fake_helm.upgrades()) == 1


@pytest.mark.usefixtures("free_ip")
def test_a_failed_upgrade_is_retried_with_equal_values(
    run_task: Run, hub_env: HubEnv, fake_helm: FakeHelm
) -> None:
    assert run_task("hub.deploy", "--env", ENV).code == 0
    fake_helm.set_status("jhub", "jhub", "failed")
    result = run_task("hub.deploy", "--env", ENV)
    assert result.code == 0, result.err
    assert "last revision 1 is failed" in result.out
    assert len(fake_helm.upgrades()) == 2


# ------------------------------------------------------------------ storage class


def capi_helm_default_class(kube: FakeKube) -> None:
    """What capi-helm's add-ons make: one class per Cinder volume type, the default type's
    marked default (magnum-capi-helm driver.py _storageclass_definitions; capi-helm-charts
    cluster-addons templates/openstack/csi-cinder.yaml)."""
    kube.create(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": "default",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": "cinder.csi.openstack.org",
            "parameters": {"availability": "nova", "type": "__DEFAULT__"},
            "reclaimPolicy": "Delete",
            "allowVolumeExpansion": True,
            "volumeBindingMode": "WaitForFirstConsumer",
        }
    )


@pytest.mark.usefixtures("free_ip")
def test_no_second_default_class_when_the_cluster_has_one(
    run_task: Run, hub_env: HubEnv, kube: FakeKube
) -> None:
    capi_helm_default_class(kube)

    result = run_task("hub.deploy", "--env", ENV)

    assert result.code == 0, result.err
    ours = kube.get("storageclasses", "cinder-storage")
    assert ours is not None
    assert not (ours["metadata"].get("annotations") or {})
    assert "default is the cluster default already, so cinder-storage is not made one" in result.out
    assert (
        "user volumes: StorageClass cinder-storage (singleuser.storage.dynamic.storageClass); "
        "claims without a class, like the hub database's hub-db-dir: default"
    ) in result.out
    kube.clear_requests()
    assert run_task("hub.deploy", "--env", ENV).code == 0
    assert kube.mutating_requests() == []


@pytest.mark.usefixtures("free_ip")
def test_our_class_is_the_default_on_a_cluster_without_one(
    run_task: Run, hub_env: HubEnv, kube: FakeKube
) -> None:
    result = run_task("hub.deploy", "--env", ENV)
    assert result.code == 0, result.err
    ours = kube.get("storageclasses", "cinder-storage")
    assert ours is not None
    assert ours["metadata"]["annotations"] == {
        "storageclass.kubernetes.io/is-default-class": "true"
    }
    assert "hub database's hub-db-dir: cinder-storage" in result.out


@pytest.mark.usefixtures("free_ip")
def test_default_class_true_is_obeyed_with_a_warning(
    run_task: Run, hub_env: HubEnv, kube: FakeKube
) -> None:
    capi_helm_default_class(kube)
    hub_env.change(lambda c: c["hub"]["storage"].update(default_class=True))
    result = run_task("hub.deploy", "--env", ENV)
    assert result.code == 0, result.err
    assert "default is a default StorageClass too; claims without a class get the newest" in (
        result.err
    )


@pytest.mark.usefixtures("free_ip")
def test_an_earlier_second_default_of_ours_is_taken_back(
    run_task: Run, hub_env: HubEnv, kube: FakeKube
) -> None:
    hub_env.change(lambda c: c["hub"]["storage"].update(default_class=True))
    assert run_task("hub.deploy", "--env", ENV).code == 0
    capi_helm_default_class(kube)
    hub_env.change(lambda c: c["hub"]["storage"].update(default_class="auto"))
    assert run_task("hub.deploy", "--env", ENV).code == 0
    ours = kube.get("storageclasses", "cinder-storage")
    assert ours is not None and not (ours["metadata"].get("annotations") or {})


@pytest.mark.usefixtures("free_ip")
def test_a_class_that_is_not_ours_must_exist(
    run_task: Run, hub_env: HubEnv, fake_helm: FakeHelm
) -> None:
    hub_env.change(lambda c: c["hub"]["storage"].update(create_class=False, class_name="fast"))
    result = run_task("hub.deploy", "--env", ENV)
    assert result.code == 1
    assert "StorageClass fast (hub.storage.class_name) does not exist" in result.err
    assert fake_helm.upgrades() == []
