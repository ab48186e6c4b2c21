"""The whole stack on a real kind cluster: `nox -s integration` (JHUB_INTEGRATION=1).

Not collected by a plain `python -m pytest`: these tests create a kind cluster, pull
JupyterHub and kube-prometheus-stack images and take many minutes. With
JHUB_INTEGRATION=1 they run; without docker, kind, kubectl or helm (or with a Docker
daemon that does not answer) every one of them is skipped with the reason.

The module fixture `local_stack` runs `invoke local.up` (hub and monitoring) on a kind
cluster of its own, in a private config folder, and `invoke local.down --yes` afterwards,
whatever happened in between.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

collect_ignore_glob = [] if os.environ.get("JHUB_INTEGRATION") == "1" else ["test_*.py"]

# Its own name: the tests must never reuse (and then delete) a developer's jhub-local.
CLUSTER = "jhub-integration"
TOOLS = ("docker", "kind", "kubectl", "helm")
# A first local.up pulls the kind node image and every chart image.
UP_TIMEOUT = 3600


@dataclass(frozen=True)
class LocalStack:
    cluster: str
    config_dir: Path
    kubeconfig: Path
    up_output: str


def invoke(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """`invoke ARGS...` from the repository, as a user would type it."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def why_not_runnable() -> str | None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if "helm" in missing and os.environ.get("JHUB_HELM"):
        missing.remove("helm")
    if missing:
        return (
            f"{', '.join(missing)} not on PATH; the kind integration tests need docker, "
            "kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation), kubectl "
            "and helm"
        )
    info = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if info.returncode != 0:
        return f"the Docker daemon does not answer (`docker info`: {info.stderr.strip()[:200]})"
    return None


def kind_clusters() -> list[str]:
    listed = subprocess.run(
        ["kind", "get", "clusters"], capture_output=True, text=True, check=True, timeout=60
    )
    return listed.stdout.split()


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    reason = why_not_runnable()
    if reason:
        pytest.skip(f"kind integration: {reason}")
    if CLUSTER in kind_clusters():
        pytest.fail(
            f"a kind cluster {CLUSTER} exists already, from another run; the tests create and "
            f"delete their own, so delete it first: `kind delete cluster --name {CLUSTER}`"
        )
    folder = tmp_path_factory.mktemp("local-config")
    shutil.copy(ROOT / "config" / "local.yaml", folder / "local.yaml")
    kubeconfig = folder / "local.kubeconfig"
    with pytest.MonkeyPatch.context() as patch:
        # Every invoke below (and loading.load in the tests) sees the same environment:
        # a private config folder, and monitoring on, so hub.deploy renders the hub as
        # local.up deployed it.
        patch.setenv("JHUB_CONFIG_DIR", str(folder))
        patch.setenv("JHUB_BUILD_DIR", str(folder / "build"))
        patch.setenv("JHUB__CLUSTER__KUBECONFIG", str(kubeconfig))
        patch.setenv("JHUB__MONITORING__ENABLED", "true")
        patch.delenv("JHUB_ENV", raising=False)
        try:
            up = invoke("local.up", "--name", CLUSTER, timeout=UP_TIMEOUT)
            if up.returncode != 0:
                pytest.fail(f"local.up failed ({up.returncode}):\n{up.stdout}\n{up.stderr}")
            yield LocalStack(CLUSTER, folder, kubeconfig, up.stdout)
        finally:
            down = invoke("local.down", "--name", CLUSTER, "--yes")
            assert down.returncode == 0, f"local.down failed:\n{down.stdout}\n{down.stderr}"
            assert CLUSTER not in kind_clusters()


@pytest.fixture(autouse=True)
def _rehearsal(documentation_values: None) -> None:
    """These tests rehearse on the fakes with the example's documentation values."""
