"""The Helm wrapper: command lines, private values files, and the real helm binary."""

from __future__ import annotations

import base64
import gzip
import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.core import helm
from scripts.core.console import register_secrets
from scripts.core.errors import OperationFailed
from tests.conftest import ROOT
from tests.support.fake_helm import FakeHelm, install
from tests.support.fakekube import FakeKube

TINY_CHART = ROOT / "tests" / "fixtures" / "charts" / "tiny-hub"
SECRET = "4f9c0b7e2d1a6c3b8e5f0a9d7c2b1e4f6a8d0c3b5e7f9a1c2d4e6f8a0b2c4d6e"


@pytest.fixture
def fake_helm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHelm:
    fake = install(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{fake.home}:{__import__('os').environ['PATH']}")
    monkeypatch.delenv("JHUB_HELM", raising=False)
    return fake


def hub_values() -> dict[str, Any]:
    return {"proxy": {"secretToken": SECRET}, "hub": {"config": {"x": [1, 2]}}}


# ------------------------------------------------------------------ version parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v3.14.2+gc309b6f\n", (3, 14, 2)),
        ("v3.9.0+g7ceeda6", (3, 9, 0)),
        ("v4.1.4+g05fa379", (4, 1, 4)),
        ('version.BuildInfo{Version:"v3.12.1", GitCommit:"f32a52"}', (3, 12, 1)),
    ],
)
def test_version_strings_of_helm_3_and_4_parse(text: str, expected: tuple[int, int, int]) -> None:
    found = helm.parse_version(text)
    assert (found.major, found.minor, found.patch) == expected


def test_unreadable_version_is_an_operation_failure() -> None:
    with pytest.raises(OperationFailed, match="cannot read a helm version"):
        helm.parse_version("helm: command garbled")


def test_helm_2_is_refused(fake_helm: FakeHelm) -> None:
    fake_helm.report_version("Client: v2.16.1+gbbdfe5e")
    with pytest.raises(OperationFailed, match=r"helm 2\.16\.1 is not supported"):
        helm.Helm().version()
    fake_helm.report_version("v3.14.2+gc309b6f")
    assert helm.Helm().version().major == 3


def test_missing_binary_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JHUB_HELM", raising=False)
    with pytest.raises(OperationFailed, match="helm is not on PATH") as failure:
        helm.Helm().version()
    assert "JHUB_HELM" in failure.value.remedy
    monkeypatch.setenv("JHUB_HELM", str(tmp_path / "nope"))
    with pytest.raises(OperationFailed, match="not an executable file"):
        helm.find_binary()


def test_jhub_helm_wins_over_path(fake_helm: FakeHelm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("JHUB_HELM", str(fake_helm.binary))
    helm.Helm().version()
    assert fake_helm.commands() == ["version"]


# ------------------------------------------------------------------ command lines


def test_upgrade_install_command_line(fake_helm: FakeHelm, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    helm.Helm(kubeconfig=kubeconfig).upgrade_install(
        "jhub",
        "jupyterhub",
        repo="https://hub.jupyter.org/helm-chart",
        version="4.4.0",
        namespace="jhub",
        values=hub_values(),
        wait=True,
        timeout_seconds=900,
    )
    (call,) = fake_helm.calls()
    argv = call["argv"]
    values_path = call["values_path"]
    assert argv == [
        "upgrade",
        "--install",
        "jhub",
        "jupyterhub",
        "--namespace",
        "jhub",
        "--repo",
        "https://hub.jupyter.org/helm-chart",
        "--version",
        "4.4.0",
        "--values",
        values_path,
        "--timeout",
        "900s",
        "--wait",
        "--kubeconfig",
        str(kubeconfig),
    ]


def test_values_travel_in_a_private_file_never_on_argv(fake_helm: FakeHelm) -> None:
    helm.Helm().upgrade_install(
        "jhub", "jupyterhub", repo="", version="", namespace="jhub", values=hub_values()
    )
    (call,) = fake_helm.calls()
    assert not any(SECRET in arg for arg in call["argv"])
    assert call["values_mode"] == 0o600
    assert yaml.safe_load(call["values_text"]) == hub_values()
    assert not Path(call["values_path"]).exists()


def test_values_file_is_removed_when_helm_fails(fake_helm: FakeHelm) -> None:
    fake_helm.fail("upgrade", "Error: UPGRADE FAILED: timed out waiting for the condition\n")
    with pytest.raises(OperationFailed, match="UPGRADE FAILED: timed out"):
        helm.Helm().upgrade_install(
            "jhub", "jupyterhub", repo="", version="", namespace="jhub", values=hub_values()
        )
    (call,) = fake_helm.calls()
    assert not Path(call["values_path"]).exists()


def test_values_file_is_private_before_anything_is_written() -> None:
    with helm.values_file({"a": 1}) as path:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert yaml.safe_load(path.read_text()) == {"a": 1}
    assert not path.exists()


def test_helm_errors_are_redacted(fake_helm: FakeHelm) -> None:
    register_secrets([SECRET])
    fake_helm.fail("upgrade", f"Error: template: bad value {SECRET}\n")
    with pytest.raises(OperationFailed) as failure:
        helm.Helm().upgrade_install(
            "jhub", "jupyterhub", repo="", version="", namespace="jhub", values=hub_values()
        )
    assert SECRET not in str(failure.value)
    assert "«redacted»" in failure.value.cause


def test_get_values_of_missing_release_is_none(fake_helm: FakeHelm) -> None:
    assert helm.Helm().get_values("jhub", "jhub") is None
    assert fake_helm.calls()[0]["argv"][:6] == [
        "get",
        "values",
        "jhub",
        "--namespace",
        "jhub",
        "-o",
    ]


def test_get_values_returns_what_was_installed(fake_helm: FakeHelm) -> None:
    client = helm.Helm()
    client.upgrade_install(
        "jhub", "jupyterhub", repo="", version="", namespace="jhub", values=hub_values()
    )
    assert client.get_values("jhub", "jhub") == hub_values()


def test_other_get_values_errors_fail(fake_helm: FakeHelm) -> None:
    fake_helm.fail("get", "Error: Kubernetes cluster unreachable: connection refused\n")
    with pytest.raises(OperationFailed, match="cluster unreachable"):
        helm.Helm().get_values("jhub", "jhub")


def test_uninstall_reports_whether_there_was_a_release(fake_helm: FakeHelm) -> None:
    client = helm.Helm()
    assert client.uninstall("jhub", "jhub") is False
    client.upgrade_install("jhub", "jupyterhub", repo="", version="", namespace="jhub", values={})
    assert client.uninstall("jhub", "jhub", wait=True, timeout_seconds=300) is True
    last = fake_helm.calls()[-1]["argv"]
    assert last == ["uninstall", "jhub", "--namespace", "jhub", "--timeout", "300s", "--wait"]


def test_status_parses_the_listing(fake_helm: FakeHelm) -> None:
    client = helm.Helm()
    assert client.status("jhub", "jhub") is None
    client.upgrade_install(
        "jhub", "jupyterhub", repo="", version="4.4.0", namespace="jhub", values={}
    )
    found = client.status("jhub", "jhub")
    assert found is not None
    assert (found.revision, found.status, found.chart_version) == (1, "deployed", "4.4.0")


# ------------------------------------------------------------------ the real helm


def test_real_helm_reports_a_supported_version(helm_binary: str) -> None:
    found = helm.Helm(binary=helm_binary).version()
    assert found.major in helm.SUPPORTED_MAJORS


def test_real_helm_templates_a_chart_with_the_values_file_we_wrote(helm_binary: str) -> None:
    values = {"greeting": "hi there", "token": SECRET, "profiles": ["default", "gpu"]}
    text = helm.Helm(binary=helm_binary).template(
        "demo", str(TINY_CHART), namespace="jhub", values=values
    )
    documents = {doc["kind"]: doc for doc in yaml.safe_load_all(text) if doc}
    assert documents["ConfigMap"]["metadata"] == {"name": "demo-settings", "namespace": "jhub"}
    assert documents["ConfigMap"]["data"] == {"greeting": "hi there", "profiles": "default,gpu"}
    assert base64.b64decode(documents["Secret"]["data"]["token"]).decode() == SECRET


def test_real_helm_rejects_values_its_schema_forbids(helm_binary: str) -> None:
    with pytest.raises(OperationFailed, match="greeting"):
        helm.Helm(binary=helm_binary).template(
            "demo", str(TINY_CHART), namespace="jhub", values={"greeting": 5, "token": "x"}
        )


def release_secret(
    name: str, namespace: str, revision: int, config: dict[str, Any]
) -> dict[str, Any]:
    """A release as helm stores it: gzip'd JSON, base64 twice (helm's and the Secret's)."""
    release = {
        "name": name,
        "namespace": namespace,
        "version": revision,
        "info": {
            "status": "deployed",
            "description": "Upgrade complete",
            "first_deployed": "2026-01-01T00:00:00Z",
            "last_deployed": "2026-01-02T00:00:00Z",
        },
        "chart": {
            "metadata": {
                "apiVersion": "v2",
                "name": "jupyterhub",
                "version": "4.4.0",
                "appVersion": "5.5.0",
            }
        },
        "config": config,
        "manifest": "",
    }
    encoded = base64.b64encode(gzip.compress(json.dumps(release).encode())).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": {
            "name": f"sh.helm.release.v1.{name}.v{revision}",
            "namespace": namespace,
            "labels": {
                "name": name,
                "owner": "helm",
                "status": "deployed",
                "version": str(revision),
            },
        },
        "data": {"release": base64.b64encode(encoded.encode()).decode()},
    }


def test_real_helm_reads_a_release_from_the_cluster(helm_binary: str, kube: FakeKube) -> None:
    client = helm.Helm(kubeconfig=kube.kubeconfig_path, binary=helm_binary)
    assert client.get_values("jhub", "jhub") is None
    assert client.status("jhub", "jhub") is None
    assert client.uninstall("jhub", "jhub") is False

    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "jhub"}})
    kube.create(release_secret("jhub", "jhub", 3, hub_values()))
    assert client.get_values("jhub", "jhub") == hub_values()
    found = client.status("jhub", "jhub")
    assert found is not None
    assert (found.revision, found.status, found.chart_version, found.app_version) == (
        3,
        "deployed",
        "4.4.0",
        "5.5.0",
    )


# ------------------------------------------------------------------ long operations


def test_a_healthy_run_longer_than_its_timeout_is_not_killed(
    fake_helm: FakeHelm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """helm's --timeout is per operation: hooks (1.6 of 2 s), then the wait (1.6 of 2 s).
    The run takes 3.2 s in all, more than --timeout plus a short grace, and is fine."""
    monkeypatch.setattr(helm, "_PROCESS_GRACE", 0.5, raising=False)  # the old fixed grace
    monkeypatch.setattr(helm, "STARTUP_SECONDS", 0.5, raising=False)
    client = helm.Helm()
    client.upgrade_install(
        "jhub",
        "jupyterhub",
        repo="",
        version="4.4.0",
        namespace="jhub",
        values={},
        timeout_seconds=2,
    )
    fake_helm.take("jhub", hooks=1.6, wait=1.6)
    client.upgrade_install(
        "jhub",
        "jupyterhub",
        repo="",
        version="4.4.0",
        namespace="jhub",
        values={"a": 1},
        timeout_seconds=2,
    )
    assert fake_helm.signals() == []
    assert [r["status"] for r in fake_helm.history("jhub", "jhub")] == ["superseded", "deployed"]


def test_past_its_budget_helm_gets_sigterm_and_the_state_it_left_is_named(
    fake_helm: FakeHelm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(helm, "_PROCESS_GRACE", 0.5, raising=False)
    monkeypatch.setattr(helm, "STARTUP_SECONDS", 0.5, raising=False)
    client = helm.Helm()
    client.upgrade_install(
        "jhub",
        "jupyterhub",
        repo="",
        version="4.4.0",
        namespace="jhub",
        values={},
        timeout_seconds=1,
    )
    fake_helm.hang("jhub")
    with pytest.raises(helm.HelmStopped) as stopped:
        client.upgrade_install(
            "jhub",
            "jupyterhub",
            repo="",
            version="4.4.0",
            namespace="jhub",
            values={"a": 1},
            timeout_seconds=1,
        )
    # 3 x 1 s + 0.5 s, then SIGTERM: helm records the revision failed (not pending).
    assert fake_helm.signals() == ["SIGTERM"]
    assert "did not finish within 4s and was stopped with SIGTERM" in stopped.value.cause
    assert "release jhub is left failed (revision 2)" in stopped.value.cause
    assert "3 x --timeout 1s + 0.5s start-up" in stopped.value.remedy
    assert fake_helm.history("jhub", "jhub")[-1]["status"] == "failed"


def test_operation_budget_covers_hooks_the_wait_and_start_up() -> None:
    # pre-hooks, the wait and post-hooks each get --timeout, plus five minutes to start.
    assert helm.operation_budget(900) == 3 * 900 + 300


def test_history_rollback_and_show_crds(fake_helm: FakeHelm) -> None:
    client = helm.Helm()
    assert client.history("jhub", "jhub") is None
    fake_helm.leave(
        "jhub",
        "jhub",
        ["deployed", "failed", "pending-upgrade"],
        chart="jupyterhub",
        version="4.4.0",
    )
    revisions = client.history("jhub", "jhub")
    assert revisions is not None
    assert [(r.revision, r.status, r.chart_version) for r in revisions] == [
        (1, "deployed", "4.4.0"),
        (2, "failed", "4.4.0"),
        (3, "pending-upgrade", "4.4.0"),
    ]
    assert revisions[-1].pending and not revisions[0].pending
    client.rollback("jhub", "jhub", 1, timeout_seconds=300)
    (rollback,) = fake_helm.rollbacks()
    assert rollback["argv"][:6] == ["rollback", "jhub", "1", "--namespace", "jhub", "--timeout"]
    assert [r["status"] for r in fake_helm.history("jhub", "jhub")] == [
        "superseded",
        "failed",
        "pending-upgrade",
        "deployed",
    ]
    fake_helm.chart_crds("kube-prometheus-stack", "88.5.3", "kind: CustomResourceDefinition\n")
    text = client.show_crds("kube-prometheus-stack", repo="https://x.example", version="88.5.3")
    assert text == "kind: CustomResourceDefinition\n"
    with pytest.raises(OperationFailed, match=r'version "99\.0\.0" not found'):
        client.show_crds("kube-prometheus-stack", repo="https://x.example", version="99.0.0")
