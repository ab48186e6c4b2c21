"""kind (Kubernetes in Docker): the commands local.up and local.down run.

Built as argument lists (never shell strings) so names cannot inject options.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..core.errors import OperationFailed, bad_option

INSTALL_HINTS = {
    "docker": "install Docker Engine (https://docs.docker.com/engine/install/) and start it",
    "kind": "install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
}
NODE_IMAGE = "kindest/node:v1.32.5"


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


def missing_tools(tools: tuple[str, ...] = ("docker", "kind", "kubectl")) -> list[str]:
    return [tool for tool in tools if shutil.which(tool) is None]


def require_tools() -> None:
    missing = missing_tools()
    if missing:
        raise OperationFailed(
            f"local.up needs {', '.join(missing)} on PATH",
            "; ".join(INSTALL_HINTS[tool] for tool in missing),
        )


def run(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    except subprocess.TimeoutExpired:
        raise OperationFailed(f"`{' '.join(command[:3])}` did not finish in 15 minutes") from None
    if done.returncode != 0:
        raise OperationFailed(
            f"`{' '.join(command[:3])}` failed: {done.stderr.strip() or done.stdout.strip()}",
            "check that the docker daemon is running (`docker info`)",
        )
    return done.stdout


def exists(cluster: KindCluster) -> bool:
    return cluster.name in run(KindCluster.list_clusters()).split()


def write_config(cluster: KindCluster, folder: Path) -> Path:
    path = folder / f"kind-{cluster.name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cluster.config(), sort_keys=False), encoding="utf-8")
    return path
