"""hub.backup and hub.restore against REAL JupyterHubs on loopback.

Each hub stands in for the hub container of one cluster: the Kubernetes emulator serves
the exec protocol and runs the command the tool sends as a local process, with the hub
pod's volume (/srv/jupyterhub, the hub-db-dir claim) mapped to that hub's own directory.
So the scripts that read and write the sqlite database run for real against the real
hub's database, and the hub's REST API says what survived.
"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TaskRun
from tests.hub import environments
from tests.hub.conftest import use_kubeconfig
from tests.support.components import JupyterHubFactory, JupyterHubServer
from tests.support.fake_helm import FakeHelm
from tests.support.fakekube import FakeKube
from tests.support.processes import ManagedProcess

Run = Callable[..., TaskRun]
VOLUME = "/srv/jupyterhub"  # where z2jh 4.4.0 mounts hub-db-dir (templates/hub/deployment.yaml)
NAMED_SERVERS = """
c.JupyterHub.allow_named_servers = True
# The server never needs to run for its record to exist: a program that exits at once.
c.Spawner.cmd = ["false"]
c.Spawner.http_timeout = 3
# Answer the spawn request at once (202) instead of holding it for 10 s.
c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}
"""


def secret_values(tag: str) -> dict[str, str]:
    return {
        "hub.config.JupyterHub.cookie_secret": (tag * 64)[:64],
        "hub.config.CryptKeeper.keys": (tag * 64)[1:65],
        "hub.config.ConfigurableHTTPProxy.auth_token": (tag * 64)[2:66],
    }


@dataclass
class Cluster:
    env: str
    kube: FakeKube
    hub: JupyterHubServer
    pod: str


def seed_cluster(kube: FakeKube, hub: JupyterHubServer, pod: str, tag: str) -> None:
    """What z2jh's install leaves: a running hub pod, a proxy pod, the `hub` Secret."""
    labels = {"app": "jupyterhub", "release": "jhub"}
    for name, component in ((pod, "hub"), (f"proxy-{tag}", "proxy")):
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name,
                    "namespace": "jhub",
                    "labels": {**labels, "component": component},
                },
                "spec": {
                    "nodeName": "node-1",
                    "containers": [{"name": component, "image": f"{component}:4.4.0"}],
                },
                "status": {"phase": "Running"},
            }
        )
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "hub", "namespace": "jhub", "labels": labels},
            "data": {
                k: base64.b64encode(v.encode()).decode() for k, v in secret_values(tag).items()
            },
        }
    )

    def runtime(container: str, command: list[str]) -> list[str] | None:
        # The hub image's python3, and its volume mount at /srv/jupyterhub.
        if container != "hub" or command[:1] != ["python3"]:
            return None
        local = [
            str(hub.workdir) + a[len(VOLUME) :] if a.startswith(VOLUME) else a for a in command
        ]
        return [sys.executable, *local[1:]]

    kube.on_exec("jhub", pod, runtime)


@pytest.fixture
def clusters(
    config_dir: Path,
    kube: FakeKube,
    fake_helm: FakeHelm,
    jupyterhub_factory: JupyterHubFactory,
    tmp_path: Path,
) -> Iterator[tuple[Cluster, Cluster]]:
    """The old cluster (kube) with a hub in use, and a new one with a fresh hub."""
    new_kube = FakeKube(_mkdir(tmp_path / "new-kube"))
    try:
        made = []
        for env, emulator, tag in (("old", kube, "a"), ("new", new_kube, "b")):
            config = environments.example()
            config["cluster"]["name"] = f"jhub-{env}"
            environments.write(config_dir, env, config)
            use_kubeconfig(emulator, config_dir, env)
            hub = jupyterhub_factory(extra_config=NAMED_SERVERS)
            pod = f"hub-{tag}7c9d"
            seed_cluster(emulator, hub, pod, tag)
            made.append(Cluster(env, emulator, hub, pod))
        # One recording helm stands for both clusters' release records.
        fake_helm.leave("jhub", "jhub", ["deployed"], chart="jupyterhub", version="4.4.0")
        yield made[0], made[1]
    finally:
        new_kube.close()


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def use_the_hub(hub: JupyterHubServer) -> None:
    """Users, an admin flag, a group and a named server, through the hub's REST API."""
    for name, admin in (("alice", True), ("bob", False), ("carol", False)):
        answer = hub.api("POST", f"users/{name}", json={"admin": admin})
        assert answer.status_code == 201, answer.text
    assert hub.api("POST", "groups/physics", json={"users": ["alice", "bob"]}).status_code == 201
    assert hub.api("POST", "users/bob/servers/gpu").status_code in (201, 202)
    # The server fails to start; its record stays once the spawn is over.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        model = hub.api("GET", "users/bob", params={"include_stopped_servers": "1"}).json()
        gpu = model.get("servers", {}).get("gpu")
        if gpu is not None and not gpu.get("pending"):
            break
        time.sleep(0.5)
    assert "gpu" in named_servers(hub, "bob")


def named_servers(hub: JupyterHubServer, user: str) -> set[str]:
    model = hub.api("GET", f"users/{user}", params={"include_stopped_servers": "1"}).json()
    return {name for name in model.get("servers", {}) if name}


def users(hub: JupyterHubServer) -> dict[str, bool]:
    answer = hub.api("GET", "users")
    assert answer.status_code == 200, answer.text
    return {u["name"]: u["admin"] for u in answer.json()}


def restart(hub: JupyterHubServer) -> None:
    """What the Deployment does once the tool deleted the hub pod: a hub on the same volume."""
    old = hub.process
    old.stop(timeout=15)
    hub.process = ManagedProcess(old.name, old.args, log_path=old.log_path, cwd=hub.workdir)
    hub.process.extra_pid_files.extend(old.extra_pid_files)
    hub.process.start()
    hub.process.wait_for_http(f"{hub.url}hub/api/health", timeout=120)


def writes(kube: FakeKube) -> list[list[str]]:
    """Execs that write the database (the restore script takes a length on stdin)."""
    return [e.command for e in kube.execs if "memory.deserialize" in " ".join(e.command)]


def resign(document: dict[str, Any]) -> None:
    body = {k: v for k, v in document.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    document["checksum"] = "sha256:" + hashlib.sha256(canonical).hexdigest()


def backup_of(run_task: Run, old: Cluster, target: Path) -> dict[str, Any]:
    use_the_hub(old.hub)
    taken = run_task("hub.backup", "--env", old.env, "--to", str(target))
    assert taken.code == 0, taken.err
    document: dict[str, Any] = json.loads(target.read_text())
    return document


# ------------------------------------------------------------------ the round trip


def test_users_admins_groups_and_named_servers_survive_a_restore_into_a_fresh_hub(
    run_task: Run, clusters: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    import jupyterhub

    old, new = clusters
    target = tmp_path / "saved" / "hub.json"
    document = backup_of(run_task, old, target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert document["jupyterhub_version"] == jupyterhub.__version__
    assert document["chart"] == {"name": "jupyterhub", "version": "4.4.0"}
    assert document["database"]["path"] == "/srv/jupyterhub/jupyterhub.sqlite"
    saved = {k: base64.b64decode(v).decode() for k, v in document["secrets"].items()}
    assert saved == secret_values("a")
    body = {k: v for k, v in document.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    assert document["checksum"] == "sha256:" + hashlib.sha256(canonical).hexdigest()
    assert "alice" not in users(new.hub)

    restored = run_task("hub.restore", "--env", new.env, "--from", str(target), "--yes")
    assert restored.code == 0, restored.err
    for value in secret_values("a").values():
        assert value not in restored.out + restored.err
    # The hub pod was deleted for its Deployment to start a hub reading the restored state;
    # the proxy too, since its token changed.
    assert new.kube.get("pods", new.pod, "jhub") is None
    assert new.kube.get("pods", "proxy-b", "jhub") is None
    secret = new.kube.get("secrets", "hub", "jhub")
    assert secret is not None
    live = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert live == secret_values("a")

    restart(new.hub)
    found = users(new.hub)
    assert found["alice"] is True
    assert found["bob"] is False
    assert found["carol"] is False
    group = new.hub.api("GET", "groups/physics").json()
    assert sorted(group["users"]) == ["alice", "bob"]
    assert named_servers(new.hub, "bob") == {"gpu"}


def test_a_backup_from_a_newer_jupyterhub_is_refused(
    run_task: Run, clusters: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    old, new = clusters
    target = tmp_path / "hub.json"
    document = backup_of(run_task, old, target)
    document["jupyterhub_version"] = "99.0.0"
    resign(document)
    target.write_text(json.dumps(document))
    before = users(new.hub)

    refused = run_task("hub.restore", "--env", new.env, "--from", str(target), "--yes")
    assert refused.code == 1
    assert "JupyterHub 99.0.0, newer than the deployed" in refused.err
    assert "Traceback" not in refused.err
    assert writes(new.kube) == []
    assert new.kube.mutating_requests() == []
    assert users(new.hub) == before


def test_a_changed_backup_fails_its_checksum(
    run_task: Run, clusters: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    old, new = clusters
    target = tmp_path / "hub.json"
    document = backup_of(run_task, old, target)
    data = document["database"]["sqlite_base64"]
    document["database"]["sqlite_base64"] = (
        data[:100] + ("A" if data[100] != "A" else "B") + data[101:]
    )
    target.write_text(json.dumps(document))
    new.kube.clear_requests()

    refused = run_task("hub.restore", "--env", new.env, "--from", str(target), "--yes")
    assert refused.code == 2
    assert "option --from" in refused.err or "--from" in refused.err
    assert "checksum does not match" in refused.err
    assert new.kube.execs == []
    assert new.kube.requests == []


def test_a_dry_run_restores_nothing(
    run_task: Run, clusters: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    old, new = clusters
    target = tmp_path / "hub.json"
    backup_of(run_task, old, target)
    before = users(new.hub)
    new.kube.clear_requests()

    result = run_task("hub.restore", "--env", new.env, "--from", str(target), "--dry-run")
    assert result.code == 0, result.err
    assert f"would write /srv/jupyterhub/jupyterhub.sqlite in pod {new.pod}" in result.out
    assert "would set hub.config.ConfigurableHTTPProxy.auth_token" in result.out
    assert f"would delete pod {new.pod}" in result.out
    assert new.kube.mutating_requests() == []
    assert writes(new.kube) == []
    assert new.kube.get("pods", new.pod, "jhub") is not None
    assert users(new.hub) == before


def test_restore_wants_yes_when_nobody_can_confirm(
    run_task: Run, clusters: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    old, new = clusters
    target = tmp_path / "hub.json"
    backup_of(run_task, old, target)
    result = run_task("hub.restore", "--env", new.env, "--from", str(target))
    assert result.code == 2
    assert "option --yes" in result.err
    assert writes(new.kube) == []


# ------------------------------------------------------------------ before removing


def test_uninstall_takes_a_backup_first_and_says_where(
    run_task: Run, clusters: tuple[Cluster, Cluster], config_dir: Path, fake_helm: FakeHelm
) -> None:
    old, _ = clusters
    use_the_hub(old.hub)
    result = run_task("hub.uninstall", "--env", old.env, "--yes")
    assert result.code == 0, result.err
    (written,) = (config_dir / "old.backups").glob("hub-*.json")
    assert f"Hub state backed up to {written}" in result.out
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    document = json.loads(written.read_text())
    assert len(base64.b64decode(document["database"]["sqlite_base64"])) > 0
    assert fake_helm.releases() == {}


def test_an_external_database_is_noted_not_copied(
    run_task: Run, clusters: tuple[Cluster, Cluster], fake_helm: FakeHelm, tmp_path: Path
) -> None:
    old, _ = clusters
    fake_helm.leave(
        "jhub",
        "jhub",
        ["deployed"],
        chart="jupyterhub",
        version="4.4.0",
        values={"hub": {"db": {"type": "postgres", "url": "postgresql://db.internal/hub"}}},
    )
    target = tmp_path / "hub.json"
    taken = run_task("hub.backup", "--env", old.env, "--to", str(target))
    assert taken.code == 0, taken.err
    document = json.loads(target.read_text())
    assert document["database"]["type"] == "postgres"
    assert "sqlite_base64" not in document["database"]
    assert "back it up with its own tools" in document["database"]["note"]


def test_without_a_running_hub_nothing_is_written(
    run_task: Run, clusters: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    old, _ = clusters
    old.kube.delete("pods", old.pod, "jhub")
    target = tmp_path / "hub.json"
    result = run_task("hub.backup", "--env", old.env, "--to", str(target))
    assert result.code == 1
    assert "no running hub pod (component=hub,release=jhub) in namespace jhub" in result.err
    assert "Traceback" not in result.err
    assert not target.exists()


# ------------------------------------------------------------------ bad input


def test_a_missing_or_foreign_file_is_one_line_naming_from(
    run_task: Run, config_dir: Path, tmp_path: Path
) -> None:
    environments.write(config_dir, "dev", environments.example())
    missing = run_task("hub.restore", "--env", "dev", "--from", str(tmp_path / "none.json"))
    assert missing.code == 2
    assert "--from" in missing.err and "none.json" in missing.err
    foreign = tmp_path / "other.json"
    foreign.write_text(json.dumps({"kind": "Secret"}))
    refused = run_task("hub.restore", "--env", "dev", "--from", str(foreign))
    assert refused.code == 2
    assert "is not a backup written by hub.backup" in refused.err
    to_dir = run_task("hub.backup", "--env", "dev", "--to", str(tmp_path))
    assert to_dir.code == 2
    assert "option --to" in to_dir.err and "is a directory" in to_dir.err
