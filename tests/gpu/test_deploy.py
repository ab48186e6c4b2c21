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
