"""The recording helm says what the real helm 4 says, in each state it can be put in.

The messages come from tests/support/helm4_recorded.json, made from the real binary by
tests/support/record_helm.py; the first test records again and compares, so a helm that
words something differently fails here rather than in production.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from typing import Any

import pytest

from tests.support import record_helm
from tests.support.fake_helm import RECORDED, FakeHelm

SAID: dict[str, Any] = json.loads(RECORDED.read_text())


def helm(fake: FakeHelm, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(fake.binary), *args], capture_output=True, text=True, timeout=60, check=False
    )


def upgrade(fake: FakeHelm, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return helm(fake, "upgrade", "--install", name, "chart", "--namespace", "ns", *extra)


def test_the_recording_is_what_the_real_helm_says(helm_binary: str) -> None:
    found = record_helm.record(helm_binary)
    committed = {key: value for key, value in SAID.items() if key != "recorded_with"}
    if found["version_short"] != committed["version_short"]:
        pytest.skip(f"recorded with {committed['version_short']}, this is {found['version_short']}")
    assert found == committed


def test_install_then_upgrade_print_what_helm_prints(fake_helm: FakeHelm) -> None:
    first = upgrade(fake_helm, "demo")
    assert first.returncode == 0
    assert first.stdout.startswith('Release "demo" does not exist. Installing it now.\nNAME: demo')
    assert "STATUS: deployed\nREVISION: 1\nDESCRIPTION: Install complete" in first.stdout
    second = upgrade(fake_helm, "demo")
    assert second.stdout.startswith('Release "demo" has been upgraded. Happy Helming!')
    assert "REVISION: 2" in second.stdout
    history = json.loads(helm(fake_helm, "history", "demo", "-n", "ns", "-o", "json").stdout)
    assert [list(row) for row in history] == [SAID["history_fields"]] * 2
    assert [row["status"] for row in history] == ["superseded", "deployed"]
    listed = json.loads(helm(fake_helm, "list", "-n", "ns", "-o", "json").stdout)
    assert list(listed[0]) == SAID["list_fields"]
    assert listed[0]["revision"] == "2"  # a string in helm's list, an int in its history


def test_a_pending_release_refuses_upgrades_with_helms_words(fake_helm: FakeHelm) -> None:
    fake_helm.leave("demo", "ns", ["deployed", "pending-upgrade"], chart="chart", version="1")
    refused = upgrade(fake_helm, "demo")
    assert refused.returncode == 1
    assert refused.stderr == (
        "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress\n"
    )
    assert len(fake_helm.history("demo", "ns")) == 2  # nothing written


def test_sigterm_records_the_revision_failed_and_sigkill_leaves_it_pending(
    fake_helm: FakeHelm,
) -> None:
    assert upgrade(fake_helm, "demo").returncode == 0
    fake_helm.hang("demo")
    process = subprocess.Popen(
        [str(fake_helm.binary), "upgrade", "--install", "demo", "chart", "-n", "ns", "--wait"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert out == "Release demo has been cancelled.\n"
    assert err.endswith("Error: UPGRADE FAILED: context canceled\n")
    last = fake_helm.history("demo", "ns")[-1]
    assert (last["status"], last["description"]) == (
        "failed",
        'Upgrade "demo" failed: context canceled',
    )

    killed = subprocess.Popen(
        [str(fake_helm.binary), "upgrade", "--install", "demo", "chart", "-n", "ns", "--wait"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.0)
    killed.kill()
    killed.communicate(timeout=30)
    last = fake_helm.history("demo", "ns")[-1]
    assert (last["status"], last["description"]) == ("pending-upgrade", "Preparing upgrade")


def test_a_phase_longer_than_the_timeout_fails_the_release(fake_helm: FakeHelm) -> None:
    assert upgrade(fake_helm, "demo").returncode == 0
    fake_helm.take("demo", hooks=10, wait=200, scale=0.01)
    timed_out = upgrade(fake_helm, "demo", "--wait", "--timeout", "2m0s")
    assert timed_out.returncode == 1
    assert timed_out.stderr.endswith(
        "Error: UPGRADE FAILED: resource Deployment/ns/demo not ready. status: InProgress, "
        "message: Replicas: 0/1\ncontext deadline exceeded\n"
    )
    assert fake_helm.history("demo", "ns")[-1]["status"] == "failed"
    # Each phase has the whole --timeout: 100 s of hooks and 100 s of waiting pass.
    fake_helm.take("demo", hooks=100, wait=100, scale=0.01)
    assert upgrade(fake_helm, "demo", "--wait", "--timeout", "2m0s").returncode == 0


def test_an_object_owned_by_another_release_stops_the_install(fake_helm: FakeHelm) -> None:
    fake_helm.conflict(
        "gpu-operator",
        kind="ClusterRole",
        name="gpu-operator",
        namespace="",
        owner="nvidia-gpu-operator",
        owner_namespace="gpu-operator",
    )
    refused = helm(
        fake_helm, "upgrade", "--install", "gpu-operator", "gpu-operator", "-n", "gpu-operator"
    )
    assert refused.returncode == 1
    assert refused.stderr == (
        'Error: unable to continue with install: ClusterRole "gpu-operator" in namespace "" '
        "exists and cannot be imported into the current release: invalid ownership metadata; "
        'annotation validation error: key "meta.helm.sh/release-name" must equal '
        '"gpu-operator": current value is "nvidia-gpu-operator"; annotation validation error: '
        'key "meta.helm.sh/release-namespace" must equal "gpu-operator": current value is '
        '"gpu-operator"\n'
    )
    assert helm(fake_helm, "history", "gpu-operator", "-n", "gpu-operator").returncode == 1


def test_rollback_of_a_pending_release_and_of_a_missing_revision(fake_helm: FakeHelm) -> None:
    fake_helm.leave("demo", "ns", ["deployed", "pending-upgrade"], chart="chart", version="1")
    rolled = helm(fake_helm, "rollback", "demo", "1", "-n", "ns", "--wait")
    assert (rolled.returncode, rolled.stdout) == (0, "Rollback was a success! Happy Helming!\n")
    statuses = [r["status"] for r in fake_helm.history("demo", "ns")]
    assert statuses == ["superseded", "pending-upgrade", "deployed"]  # as the real helm left it
    assert fake_helm.history("demo", "ns")[-1]["description"] == "Rollback to 1"
    missing = helm(fake_helm, "rollback", "demo", "97", "-n", "ns")
    assert (missing.returncode, missing.stderr) == (1, "Error: release has no 97 version\n")


def test_missing_releases(fake_helm: FakeHelm) -> None:
    for args in (["get", "values", "ghost"], ["history", "ghost"]):
        outcome = helm(fake_helm, *args, "-n", "ns")
        assert (outcome.returncode, outcome.stderr) == (1, "Error: release: not found\n")
    outcome = helm(fake_helm, "uninstall", "ghost", "-n", "ns")
    assert outcome.stderr == "Error: uninstall: Release not loaded: ghost: release: not found\n"
    assert upgrade(fake_helm, "bare").returncode == 0
    assert helm(fake_helm, "get", "values", "bare", "-n", "ns", "-o", "json").stdout == "null\n"
