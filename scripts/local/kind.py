"""kind (Kubernetes in Docker): the commands local.up and local.down run.

Built as argument lists (never shell strings) so names cannot inject options.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..core.errors import OperationFailed, bad_option
from ..core.helm import INSTALL_HINT as HELM_HINT

INSTALL_HINTS = {
    "docker": "install Docker Engine (https://docs.docker.com/engine/install/) and start it",
    "kind": "install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
    "helm": HELM_HINT,
}
TOOLS = ("docker", "kind", "kubectl", "helm")
# z2jh 4.4.0 needs Kubernetes 1.32 or later. kind's release notes pin node images by
# digest, each built for that kind release (this one: kind v0.29.0).
NODE_IMAGE = (
    "kindest/node:v1.32.5@sha256:e3b2327e3a5ab8c76f5ece68936e4cafaa82edf58486b769727ab0b3b97a5b0d"
)
# Creating a cluster pulls the node image (about 1 GB) on first use.
COMMAND_TIMEOUT = 900
DOCKER_REMEDY = (
    "check that the Docker daemon runs and that you may use it (`docker info`; "
    "on Linux, membership of the docker group)"
)


@dataclass(frozen=True)
class KindCluster:
    name: str
    kubeconfig: Path
    node_image: str = NODE_IMAGE

    def config(self) -> dict[str, object]:
        """One control-plane node: enough for a hub, and quick to create."""
        return {
            "kind": "Cluster",
            "apiVersion": "kind.x-k8s.io/v1alpha4",
            "name": self.name,
            "nodes": [{"role": "control-plane", "image": self.node_image}],
        }

    def create(self, config_file: Path) -> list[str]:
        # --kubeconfig: kind writes there instead of merging into ~/.kube/config.
        return [
            "kind",
            "create",
            "cluster",
            "--name",
            self.name,
            "--config",
            str(config_file),
            "--kubeconfig",
            str(self.kubeconfig),
            "--wait",
            "180s",
        ]

    def export_kubeconfig(self) -> list[str]:
        return [
            "kind",
            "export",
            "kubeconfig",
            "--name",
            self.name,
            "--kubeconfig",
            str(self.kubeconfig),
        ]

    def delete(self) -> list[str]:
        return [
            "kind",
            "delete",
            "cluster",
            "--name",
            self.name,
            "--kubeconfig",
            str(self.kubeconfig),
        ]

    @staticmethod
    def list_clusters() -> list[str]:
        return ["kind", "get", "clusters"]


def checked_name(name: str) -> str:
    if not name or not all(ch.isalnum() or ch == "-" for ch in name) or name[0] == "-":
        raise bad_option("--name", f"{name!r} is not a kind cluster name (letters, digits, '-')")
    return name


def missing_tools(tools: tuple[str, ...] = TOOLS) -> list[str]:
    def found(tool: str) -> bool:
        # hub.deploy runs the helm that JHUB_HELM names, when it names one.
        if tool == "helm" and os.environ.get("JHUB_HELM"):
            return os.access(os.environ["JHUB_HELM"], os.X_OK)
        return shutil.which(tool) is not None

    return [tool for tool in tools if not found(tool)]


def require_tools(task: str = "local.up", tools: tuple[str, ...] = TOOLS) -> None:
    missing = missing_tools(tools)
    if missing:
        raise OperationFailed(
            f"{task} needs {', '.join(missing)} on PATH",
            "; ".join(INSTALL_HINTS[tool] for tool in missing),
        )


def run(command: list[str], remedy: str = DOCKER_REMEDY) -> str:
    """Run one command; its own error text becomes the failure's cause."""
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            timeout=COMMAND_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise OperationFailed(f"cannot run {command[0]}", remedy) from None
    except subprocess.TimeoutExpired:
        raise OperationFailed(
            f"`{' '.join(command[:3])}` did not finish in {COMMAND_TIMEOUT // 60} minutes", remedy
        ) from None
    if done.returncode != 0:
        raise OperationFailed(
            f"`{' '.join(command[:3])}` failed: {done.stderr.strip() or done.stdout.strip()}",
            remedy,
        )
    return done.stdout


def require_docker() -> None:
    """kind's own error for a stopped daemon is a wall of text; this says it in one line."""
    run(["docker", "info", "--format", "{{.ServerVersion}}"])


def clusters() -> list[str]:
    return run(KindCluster.list_clusters()).split()


def exists(cluster: KindCluster) -> bool:
    return cluster.name in clusters()


def write_config(cluster: KindCluster, folder: Path) -> Path:
    path = folder / f"kind-{cluster.name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cluster.config(), sort_keys=False), encoding="utf-8")
    return path
