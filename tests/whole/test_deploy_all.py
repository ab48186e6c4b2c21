"""`invoke deploy` as a whole: stage order, parallel releases, failure handling, no-op re-run.

Kubernetes is kmock's emulator behind the real client, Helm is the recording fake
(a real install cannot run against the emulator), the cluster is an existing one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import TaskRun
from tests.hub.conftest import running_hub, use_kubeconfig
from tests.support.fake_helm import FakeHelm
from tests.support.fakecloud import FakeCloud
from tests.support.fakekube import FakeKube

ENV = "whole"


@pytest.fixture
def whole(config_dir: Path, run_task: Callable[..., TaskRun], kube: FakeKube) -> Path:
    """An environment on an existing cluster with hub, monitoring and the GPU operator."""
    assert run_task("config.init", "--env", ENV).code == 0
    config = yaml.safe_load((config_dir / f"{ENV}.yaml").read_text())
    config["cluster"]["driver"] = "existing"
    config["cluster"]["gpu"]["enabled"] = False  # no node group: the GPU profile keeps the operator
    config["hub"]["floating_ip"] = None
    (config_dir / f"{ENV}.yaml").write_text(yaml.safe_dump(config))
    secrets_path = config_dir / f"{ENV}.secrets.yaml"
    secrets = yaml.safe_load(secrets_path.read_text())
    secrets["oauth_client_secret"] = "client-secret-for-tests"
    secrets_path.write_text(yaml.safe_dump(secrets))
    use_kubeconfig(kube, config_dir, ENV)
    running_hub(kube, address="203.0.113.7")
    # monitoring.deploy applies its alert rules once the release brought the CRD.
    kube.add_resource("monitoring.coreos.com/v1/prometheusrules", kind="PrometheusRule")
    return config_dir


def upgraded(fake: FakeHelm) -> list[str]:
    return sorted(call["argv"][2] for call in fake.upgrades())  # upgrade --install NAME


def test_stages_run_in_order_and_every_release_is_installed(
    whole: Path, run_task: Callable[..., TaskRun], fake_helm: FakeHelm
) -> None:
    result = run_task("deploy", "--env", ENV, "--no-health")
    assert result.code == 0, result.err + result.out
    stages = ["Stage 1: cluster", "Stage 2: cluster access", "Stage 3: releases"]
    positions = [result.out.index(stage) for stage in stages]
    assert positions == sorted(positions)
    # blackbox: the probe release monitoring.deploy installs after its stack.
    assert upgraded(fake_helm) == ["blackbox", "gpu-operator", "jhub", "prometheus"]


def test_releases_overlap_in_time(
    whole: Path, run_task: Callable[..., TaskRun], fake_helm: FakeHelm
) -> None:
    fake_helm.slow("upgrade", 1.5)
    assert run_task("deploy", "--env", ENV, "--no-health").code == 0
    # The blackbox release follows the stack inside the monitoring job, so it is left out.
    spans = [
        (t["started"], t["ended"])
        for t in fake_helm.timings()
        if t["argv"][0] == "upgrade" and t["argv"][2] != "blackbox"
    ]
    assert len(spans) == 3
    # Every install began before any of them ended: they ran side by side, not in turn.
    assert max(start for start, _ in spans) < min(end for _, end in spans)


def test_one_failed_release_fails_the_command_after_the_others_finish(
    whole: Path, run_task: Callable[..., TaskRun], fake_helm: FakeHelm
) -> None:
    fake_helm.fail_release("prometheus", "Error: chart requires kubeVersion >=1.99\n")
    result = run_task("deploy", "--env", ENV, "--no-health")
    assert result.code == 1
    assert "1 of 3 releases failed: monitoring" in result.err
    assert "kubeVersion" in result.out + result.err
    installed = sorted(release["name"] for release in fake_helm.releases().values())
    assert installed == ["gpu-operator", "jhub"]


def test_second_run_makes_no_mutating_call(
    whole: Path, run_task: Callable[..., TaskRun], fake_helm: FakeHelm, kube: FakeKube
) -> None:
    assert run_task("deploy", "--env", ENV, "--no-health").code == 0
    upgrades_before = len(fake_helm.upgrades())
    kube.clear_requests()
    result = run_task("deploy", "--env", ENV, "--no-health")
    assert result.code == 0, result.err
    assert kube.mutating_requests() == []
    assert len(fake_helm.upgrades()) == upgrades_before


def test_dry_run_changes_nothing(
    whole: Path, run_task: Callable[..., TaskRun], fake_helm: FakeHelm, kube: FakeKube
) -> None:
    kube.clear_requests()
    result = run_task("deploy", "--env", ENV, "--dry-run")
    assert result.code == 0, result.err
    assert kube.mutating_requests() == []
    assert fake_helm.upgrades() == []
    assert "dry run: nothing was changed" in result.out


def test_destroy_needs_yes_and_lists_what_goes(
    whole: Path, run_task: Callable[..., TaskRun], fake_helm: FakeHelm, kube: FakeKube
) -> None:
    assert run_task("deploy", "--env", ENV, "--no-health").code == 0
    refused = run_task("destroy", "--env", ENV)
    assert refused.code == 2 and "option --yes" in refused.err
    assert "the hub release jhub" in refused.out
    assert fake_helm.releases() and all(c["argv"][0] != "uninstall" for c in fake_helm.calls())
    # Without a hub that answers exec, the backup taken first fails and nothing goes.
    kept = run_task("destroy", "--env", ENV, "--yes")
    assert kept.code == 1
    assert "the backup before removing the hub failed" in kept.err
    assert "--no-backup" in kept.err
    assert fake_helm.releases() and all(c["argv"][0] != "uninstall" for c in fake_helm.calls())
    result = run_task("destroy", "--env", ENV, "--yes", "--no-backup")
    assert result.code == 0, result.err
    assert fake_helm.releases() == {}


@pytest.mark.usefixtures("fake_helm")
def test_deploy_makes_the_dns_record_before_the_releases(
    whole: Path,
    run_task: Callable[..., TaskRun],
    fake_cloud: FakeCloud,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # hub.dns.manage: the A record comes before the hub release (Let's Encrypt needs it).
    fake_cloud.clouds_yaml(tmp_path, monkeypatch)
    fake_cloud.add_zone("example.org.")
    fake_cloud.add_floating_ip("203.0.113.7")
    config = yaml.safe_load((whole / f"{ENV}.yaml").read_text())
    config["cloud"] = "fake"
    config["hub"]["floating_ip"] = "203.0.113.7"
    config["hub"]["dns"] = {"manage": True}
    (whole / f"{ENV}.yaml").write_text(yaml.safe_dump(config))
    result = run_task("deploy", "--env", ENV, "--no-health")
    assert result.code == 0, result.err + result.out
    assert result.out.index("Stage 2b: DNS record") < result.out.index("Stage 3: releases")
    (record,) = [r for r in fake_cloud.recordsets.values() if r["type"] == "A"]
    assert (record["name"], record["records"]) == ("jupyter.example.org.", ["203.0.113.7"])
