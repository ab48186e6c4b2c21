"""gpu.deploy: namespace and PriorityClass against the emulator, the release through
the recording helm; the decision when the PriorityClass workaround applies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
import yaml

from scripts.core import manifests
from scripts.core.settings import Settings
from scripts.gpu.deploy import decide_priority_class
from tests.conftest import TaskRun
from tests.gpu.conftest import EXAMPLE, node
from tests.support.fake_helm import FakeHelm
from tests.support.fakekube import FakeKube

PRIORITY = "nvidia-priority-class"


def serve_version(kube: FakeKube, major: str, minor: str) -> None:
    kube.emulator["get /version/"] << {
        "major": major,
        "minor": minor,
        "gitVersion": f"v{major}.{minor}.0",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.22",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def installed_values(fake: FakeHelm) -> dict[str, Any]:
    (upgrade,) = fake.upgrades()
    values: dict[str, Any] = yaml.safe_load(upgrade["values_text"])
    return values


def test_heat_cluster_gets_the_workaround_once(
    kube: FakeKube,
    kube_env: Callable[..., str],
    fake_helm: FakeHelm,
    run_task: Callable[..., TaskRun],
) -> None:
    env = kube_env(**{"cluster.driver": "heat"})

    first = run_task("gpu.deploy", "--env", env)

    assert first.code == 0, first.err
    stored = kube.get("priorityclasses", PRIORITY)
    assert stored is not None and stored["value"] == 1_000_000_000
    assert kube.get("namespaces", "gpu-operator") is not None
    upgrade = fake_helm.upgrades()[0]
    assert upgrade["values_mode"] == 0o600
    argv = upgrade["argv"]
    assert argv[:3] == ["upgrade", "--install", "gpu-operator"]
    assert argv[argv.index("--version") + 1] == "v26.7.0"
    assert argv[argv.index("--namespace") + 1] == "gpu-operator"
    values = installed_values(fake_helm)
    assert values["operator"]["priorityClassName"] == PRIORITY
    assert values["daemonsets"]["priorityClassName"] == PRIORITY
    assert values["node-feature-discovery"]["priorityClassName"] == PRIORITY
    assert "gpu.fix-csi" in first.out  # heat clusters need the CSI toleration too

    kube.clear_requests()
    second = run_task("gpu.deploy", "--env", env)

    assert second.code == 0, second.err
    assert kube.mutating_requests() == []
    assert len(fake_helm.upgrades()) == 1
    assert "values unchanged; no upgrade" in second.out


def test_dry_run_changes_nothing(
    kube: FakeKube,
    kube_env: Callable[..., str],
    fake_helm: FakeHelm,
    run_task: Callable[..., TaskRun],
) -> None:
    env = kube_env(**{"cluster.driver": "heat"})

    result = run_task("gpu.deploy", "--env", env, "--dry-run")

    assert result.code == 0, result.err
    assert kube.mutating_requests() == []
    assert fake_helm.upgrades() == []
    assert kube.get("priorityclasses", PRIORITY) is None
    assert f"would create PriorityClass {PRIORITY}" in result.out
    assert "would helm install gpu-operator" in result.out


def test_modern_kubernetes_needs_no_workaround(
    kube: FakeKube,
    kube_env: Callable[..., str],
    fake_helm: FakeHelm,
    run_task: Callable[..., TaskRun],
) -> None:
    serve_version(kube, "1", "32")

    result = run_task("gpu.deploy", "--env", kube_env())  # capi-helm, priority_class: auto

    assert result.code == 0, result.err
    assert kube.get("priorityclasses", PRIORITY) is None
    assert "Kubernetes 1.32 allows system-node-critical" in result.out
    assert "operator" not in installed_values(fake_helm)


def test_kubernetes_before_1_17_gets_the_workaround(
    kube: FakeKube,
    kube_env: Callable[..., str],
    fake_helm: FakeHelm,
    run_task: Callable[..., TaskRun],
) -> None:
    serve_version(kube, "1", "16+")  # how some managed clusters report their minor

    result = run_task("gpu.deploy", "--env", kube_env())

    assert result.code == 0, result.err
    assert kube.get("priorityclasses", PRIORITY) is not None
    assert "Kubernetes 1.16 is older than 1.17" in result.out
    assert installed_values(fake_helm)["daemonsets"]["priorityClassName"] == PRIORITY


def test_explicit_false_wins_over_heat(
    kube: FakeKube,
    kube_env: Callable[..., str],
    fake_helm: FakeHelm,
    run_task: Callable[..., TaskRun],
) -> None:
    env = kube_env(**{"cluster.driver": "heat", "gpu.priority_class": False})

    result = run_task("gpu.deploy", "--env", env)

    assert result.code == 0, result.err
    assert kube.get("priorityclasses", PRIORITY) is None
    assert "priorityClassName" not in yaml.safe_dump(installed_values(fake_helm))


def test_custom_driver_and_a_node_on_another_fedora_release(
    kube: FakeKube,
    kube_env: Callable[..., str],
    fake_helm: FakeHelm,
    run_task: Callable[..., TaskRun],
) -> None:
    kube.create(node("gpu-0", gpu=True, os_image="Fedora CoreOS 41.20250315.3.0"))
    kube.create(node("gpu-1", gpu=True, os_image="Ubuntu 22.04.5 LTS"))
    env = kube_env(**{"cluster.driver": "heat", "gpu.driver.custom": True})

    result = run_task("gpu.deploy", "--env", env)

    assert result.code == 0, result.err
    driver = installed_values(fake_helm)["driver"]
    assert driver == {
        "enabled": True,
        "repository": "harbor.example.org/nvidia",
        "image": "nvidia-driver",
        "version": "580.95.05",
    }
    assert "gpu-0 runs Fedora CoreOS 41" in result.err
    assert "invoke gpu.build-driver --fedora-version 41" in result.err
    assert "gpu-1 runs Ubuntu 22.04.5 LTS" in result.err


def test_helm_failure_is_one_line_with_helms_words(
    kube: FakeKube,
    kube_env: Callable[..., str],
    fake_helm: FakeHelm,
    run_task: Callable[..., TaskRun],
) -> None:
    fake_helm.fail("upgrade", "Error: INSTALLATION FAILED: context deadline exceeded\n")

    result = run_task("gpu.deploy", "--env", kube_env(**{"cluster.driver": "heat"}))

    assert result.code == 1
    assert "context deadline exceeded" in result.err
    assert "Traceback" not in result.err


def test_nothing_to_do_without_gpus(
    kube: FakeKube,
    kube_env: Callable[..., str],
    fake_helm: FakeHelm,
    run_task: Callable[..., TaskRun],
) -> None:
    profiles = [p for p in EXAMPLE["hub"]["profiles"] if not p.get("gpus")]
    env = kube_env(**{"cluster.gpu.enabled": False, "hub.profiles": profiles})

    result = run_task("gpu.deploy", "--env", env)

    assert result.code == 0, result.err
    assert fake_helm.calls() == []
    assert kube.requests == []
    assert "cluster.gpu.enabled is false" in result.out


# ---------------------------------------------------------------- the rules themselves


def settings(**changes: Any) -> Settings:
    config = yaml.safe_load(yaml.safe_dump(EXAMPLE))
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node_ = config
        for key in parents:
            node_ = node_[key]
        node_[last] = value
    return Settings.model_validate(config)


@pytest.mark.parametrize(
    ("changes", "version", "expected"),
    [
        ({}, (1, 32), False),
        ({}, (1, 16), True),
        ({}, (1, 17), False),
        ({}, None, False),
        ({"cluster.driver": "heat"}, (1, 32), True),
        ({"gpu.priority_class": True}, (1, 32), True),
        ({"gpu.priority_class": False, "cluster.driver": "heat"}, (1, 10), False),
    ],
)
def test_priority_class_decision(
    changes: dict[str, Any], version: tuple[int, int] | None, expected: bool
) -> None:
    assert decide_priority_class(settings(**changes), version).use is expected


def test_priority_class_is_valid_kubernetes_and_a_user_class() -> None:
    manifest = manifests.priority_class(PRIORITY)
    kubernetes_validate.validate(manifest, "1.32", strict=True)
    # Values above one billion are reserved for system classes; the API refuses them.
    assert manifest["value"] <= 1_000_000_000
    assert manifest["globalDefault"] is False


def test_priority_class_validation_can_fail() -> None:
    manifest = manifests.priority_class(PRIORITY)
    manifest["valu"] = manifest.pop("value")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, "1.32", strict=True)


# ---------------------------------------------------------------- release state


def test_a_failed_release_is_retried_although_its_values_match(
    kube: FakeKube,
    kube_env: Callable[..., str],
    fake_helm: FakeHelm,
    run_task: Callable[..., TaskRun],
) -> None:
    """`helm get values` answers for a failed revision too; equal values are no reason
    to leave it failed."""
    env = kube_env(**{"cluster.driver": "heat"})
    assert run_task("gpu.deploy", "--env", env).code == 0
    fake_helm.set_status("gpu-operator", "gpu-operator", "failed")

    again = run_task("gpu.deploy", "--env", env)

    assert again.code == 0, again.err
    assert len(fake_helm.upgrades()) == 2
    assert "last revision 1 is failed" in again.out
    assert fake_helm.history("gpu-operator", "gpu-operator")[-1]["status"] == "deployed"


def test_a_new_chart_version_upgrades_with_equal_values(
    kube: FakeKube,
    kube_env: Callable[..., str],
    fake_helm: FakeHelm,
    run_task: Callable[..., TaskRun],
) -> None:
    env = kube_env(**{"cluster.driver": "heat"})
    assert run_task("gpu.deploy", "--env", env).code == 0
    kube_env(**{"cluster.driver": "heat", "gpu.chart.version": "v26.7.1"})

    bumped = run_task("gpu.deploy", "--env", env)

    assert bumped.code == 0, bumped.err
    assert "chart v26.7.0 → v26.7.1" in bumped.out
    argv = fake_helm.upgrades()[-1]["argv"]
    assert argv[argv.index("--version") + 1] == "v26.7.1"


def test_a_pending_release_is_shown_and_recovered_on_request(
    kube: FakeKube,
    kube_env: Callable[..., str],
    fake_helm: FakeHelm,
    run_task: Callable[..., TaskRun],
) -> None:
    env = kube_env(**{"cluster.driver": "heat"})
    assert run_task("gpu.deploy", "--env", env).code == 0
    # A second deploy whose helm was killed: revision 2 stays pending-upgrade.
    values = fake_helm.releases()["gpu-operator/gpu-operator"]["values"]
    fake_helm.leave(
        "gpu-operator",
        "gpu-operator",
        ["deployed", "pending-upgrade"],
        chart="gpu-operator",
        version="v26.7.0",
        values=values,
    )

    stuck = run_task("gpu.deploy", "--env", env)

    assert stuck.code == 1
    assert "release gpu-operator/gpu-operator is pending-upgrade (revision 2" in stuck.err
    assert "another operation (install/upgrade/rollback) is in progress" in stuck.err
    assert f"invoke gpu.deploy --env {env} --recover --yes" in stuck.err
    assert "helm rollback gpu-operator 1 --namespace gpu-operator" in stuck.err
    assert "helm history gpu-operator --namespace gpu-operator" in stuck.out
    assert "pending-upgrade" in stuck.out
    assert len(fake_helm.upgrades()) == 1

    planned = run_task("gpu.deploy", "--env", env, "--recover", "--dry-run")
    assert planned.code == 0, planned.err
    assert "would helm rollback gpu-operator 1 --namespace gpu-operator --wait" in planned.out
    assert fake_helm.rollbacks() == []

    unattended = run_task("gpu.deploy", "--env", env, "--recover")
    assert unattended.code == 2 and "option --yes" in unattended.err
    assert fake_helm.rollbacks() == []

    recovered = run_task("gpu.deploy", "--env", env, "--recover", "--yes")
    assert recovered.code == 0, recovered.err
    assert len(fake_helm.rollbacks()) == 1
    statuses = [r["status"] for r in fake_helm.history("gpu-operator", "gpu-operator")]
    assert statuses == ["superseded", "pending-upgrade", "deployed"]
    assert len(fake_helm.upgrades()) == 1  # revision 1 already had these values


def test_a_never_deployed_install_is_uninstalled_to_recover(
    kube: FakeKube,
    kube_env: Callable[..., str],
    fake_helm: FakeHelm,
    run_task: Callable[..., TaskRun],
) -> None:
    env = kube_env(**{"cluster.driver": "heat"})
    fake_helm.leave(
        "gpu-operator", "gpu-operator", ["pending-install"], chart="gpu-operator", version="v26.7.0"
    )
    stuck = run_task("gpu.deploy", "--env", env)
    assert stuck.code == 1
    assert "helm uninstall gpu-operator --namespace gpu-operator" in stuck.err

    recovered = run_task("gpu.deploy", "--env", env, "--recover", "--yes")

    assert recovered.code == 0, recovered.err
    assert "uninstall" in fake_helm.commands()
    assert fake_helm.releases()["gpu-operator/gpu-operator"]["status"] == "deployed"
    assert len(fake_helm.upgrades()) == 1


def test_a_recent_pending_revision_may_still_be_worked_on(
    kube: FakeKube,
    kube_env: Callable[..., str],
    fake_helm: FakeHelm,
    run_task: Callable[..., TaskRun],
) -> None:
    import datetime

    env = kube_env(**{"cluster.driver": "heat"})
    just_now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fake_helm.leave(
        "gpu-operator",
        "gpu-operator",
        ["deployed", "pending-upgrade"],
        chart="gpu-operator",
        version="v26.7.0",
        updated=just_now,
    )
    refused = run_task("gpu.deploy", "--env", env, "--recover", "--yes")
    assert refused.code == 1
    assert "a helm may still be working on it (its budget is 3000s)" in refused.err
    assert fake_helm.rollbacks() == []


def test_the_platform_operator_of_capi_helm_is_used_not_doubled(
    kube: FakeKube,
    kube_env: Callable[..., str],
    fake_helm: FakeHelm,
    run_task: Callable[..., TaskRun],
) -> None:
    """capi-helm's add-ons install the operator as release gpu-operator/nvidia-gpu-operator
    (capi-helm-charts cluster-addons nvidiaGPUOperator); its ClusterRole has a fixed name
    (gpu-operator chart templates/clusterrole.yaml), so helm would refuse a second one."""
    serve_version(kube, "1", "32")
    kube.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": "gpu-operator",
                "labels": {"app.kubernetes.io/managed-by": "Helm"},
                "annotations": {
                    "meta.helm.sh/release-name": "nvidia-gpu-operator",
                    "meta.helm.sh/release-namespace": "gpu-operator",
                },
            },
            "rules": [],
        }
    )
    fake_helm.conflict(
        "gpu-operator",
        kind="ClusterRole",
        name="gpu-operator",
        namespace="",
        owner="nvidia-gpu-operator",
        owner_namespace="gpu-operator",
    )

    result = run_task("gpu.deploy", "--env", kube_env(**{"cluster.driver": "capi-helm"}))

    assert result.code == 0, result.err
    assert "already installed as helm release gpu-operator/nvidia-gpu-operator" in result.out
    assert fake_helm.upgrades() == []
    assert kube.mutating_requests() == []
