"""Recording, stateful stand-ins for the `kind`, `docker` and `kubectl` executables.

kind cannot run on the CI machines (it is on neither PyPI nor Debian), so local.up and
local.down are tested end to end against these, with the Kubernetes emulator as "the kind
cluster" and the recording helm. They answer the way the real tools do for the
commands local.up runs (kind 0.2x, Docker CLI 2x), keep their state in files (which kind
clusters exist, the cloud-provider-kind container's state) and log every call, so tests
can say exactly which commands ran. The real tools are exercised by tests/integration.
"""

from __future__ import annotations

import json
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COMMON = r"""
import json, os, shutil, sys
from pathlib import Path

home = Path(__file__).parent
argv = sys.argv[1:]
with open(home / "calls.jsonl", "a") as log:
    log.write(json.dumps({"tool": Path(__file__).name, "argv": argv}) + "\n")

def option(name):
    return argv[argv.index(name) + 1] if name in argv else None

def load(name, default):
    path = home / name
    return json.loads(path.read_text()) if path.exists() else default

def save(name, value):
    (home / name).write_text(json.dumps(value))
"""

KIND = r"""
clusters = load("clusters.json", [])

def hand_out_kubeconfig():
    target = option("--kubeconfig")
    shutil.copy(home / "cluster.kubeconfig", target)
    # Readable by others, so the tests see local.up make it private.
    os.chmod(target, 0o644)

if argv[:2] == ["get", "clusters"]:
    if not clusters:
        print("No kind clusters found.", file=sys.stderr)
    for name in clusters:
        print(name)
elif argv[:2] == ["create", "cluster"]:
    name = option("--name")
    if name in clusters:
        print("ERROR: failed to create cluster: node(s) already exist for a cluster "
              f'with the name "{name}"', file=sys.stderr)
        sys.exit(1)
    save("create-config.yaml.json", Path(option("--config")).read_text())
    clusters.append(name)
    save("clusters.json", clusters)
    hand_out_kubeconfig()
elif argv[:2] == ["export", "kubeconfig"]:
    name = option("--name")
    if name not in clusters:
        print(f'ERROR: could not locate any control plane nodes for cluster named "{name}". '
              "Use the --name option to select a different cluster", file=sys.stderr)
        sys.exit(1)
    hand_out_kubeconfig()
    print(f"Set kubectl context to \"kind-{name}\"", file=sys.stderr)
elif argv[:2] == ["delete", "cluster"]:
    name = option("--name")
    print(f'Deleting cluster "{name}" ...', file=sys.stderr)
    save("clusters.json", [other for other in clusters if other != name])
else:
    print(f"fake kind: unexpected {argv}", file=sys.stderr)
    sys.exit(2)
"""

DOCKER = r"""
containers = load("containers.json", {})
if (home / "fail-docker").exists():
    print((home / "fail-docker").read_text(), file=sys.stderr)
    sys.exit(1)
if argv[0] == "info":
    print("27.3.1")
elif argv[0] == "ps":
    wanted = option("--filter").split("=", 1)[1].strip("^$")
    if wanted in containers:
        print(containers[wanted])
elif argv[0] == "run":
    name = option("--name")
    if name in containers:
        print(f'docker: Error response from daemon: Conflict. The container name "/{name}" '
              "is already in use.", file=sys.stderr)
        sys.exit(125)
    containers[name] = "running"
    print("4f1c0ffee")
elif argv[0] in ("start", "stop", "rm"):
    name = argv[1]
    if name not in containers:
        print(f"Error response from daemon: No such container: {name}", file=sys.stderr)
        sys.exit(1)
    if argv[0] == "rm":
        if containers[name] == "running":
            print("Error response from daemon: cannot remove a running container", file=sys.stderr)
            sys.exit(1)
        del containers[name]
    else:
        containers[name] = "running" if argv[0] == "start" else "exited"
    print(name)
else:
    print(f"fake docker: unexpected {argv}", file=sys.stderr)
    sys.exit(2)
save("containers.json", containers)
"""

# local.up must reach the cluster through the Kubernetes client, never kubectl.
KUBECTL = r"""
print(f"fake kubectl: not expected to run ({argv})", file=sys.stderr)
sys.exit(3)
"""


@dataclass
class FakeTools:
    home: Path

    def calls(self, tool: str | None = None) -> list[list[str]]:
        log = self.home / "calls.jsonl"
        if not log.exists():
            return []
        entries = [json.loads(line) for line in log.read_text().splitlines() if line]
        return [entry["argv"] for entry in entries if tool in (None, entry["tool"])]

    def clear_calls(self) -> None:
        (self.home / "calls.jsonl").unlink(missing_ok=True)

    def clusters(self) -> list[str]:
        path = self.home / "clusters.json"
        found: list[str] = json.loads(path.read_text()) if path.exists() else []
        return found

    def add_cluster(self, name: str) -> None:
        (self.home / "clusters.json").write_text(json.dumps([*self.clusters(), name]))

    def containers(self) -> dict[str, str]:
        path = self.home / "containers.json"
        found: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        return found

    def set_container(self, name: str, state: str) -> None:
        (self.home / "containers.json").write_text(json.dumps({**self.containers(), name: state}))

    def created_config(self) -> Any:
        path = self.home / "create-config.yaml.json"
        return json.loads(path.read_text()) if path.exists() else None

    def docker_fails(self, stderr: str) -> None:
        (self.home / "fail-docker").write_text(stderr)


def install(directory: Path, cluster_kubeconfig: Path) -> FakeTools:
    """kind, docker and kubectl in `directory`; kind hands out `cluster_kubeconfig`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cluster.kubeconfig").write_bytes(cluster_kubeconfig.read_bytes())
    for name, body in (("kind", KIND), ("docker", DOCKER), ("kubectl", KUBECTL)):
        binary = directory / name
        binary.write_text(f"#!{sys.executable}\n{COMMON}\n{body}")
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return FakeTools(directory)
