"""`cluster.replace` on the fakes: the fake cloud's Magnum, one Kubernetes emulator per
cluster, the recording helm with release records per cluster.

What this version does: the new cluster and its releases, users' servers stopped on the old
hub, the hub state backed up and restored, the users' volumes adopted, recorded step by step
so that an interrupted run continues; then it stops before the floating IP (not automated).

Each hub pod's exec runs the command as a local process (the emulator plays the container
runtime, as in tests/hub/test_backup.py), with /srv/jupyterhub mapped to a directory of
its own holding a real sqlite database, so hub.backup and hub.restore copy real files.
"""

from __future__ import annotations

import json
import re
import sqlite3
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests_mock
import yaml

from scripts import replace
from scripts.cluster import deploy as cluster_deploy
from scripts.core import loading
from scripts.core.console import Console
from scripts.core.errors import BadInput, OperationFailed
from scripts.orchestrate import buffered_console
from tests.cluster.conftest import CLUSTER, merge
from tests.conftest import TaskRun
from tests.hub.conftest import ready_pod, use_kubeconfig
from tests.support.clock import FakeClock as Clock
from tests.support.driver_clusters import seed
from tests.support.fake_helm import FakeHelm
from tests.support.fakecloud import FakeCloud
from tests.support.fakekube import FakeKube

ENV = "drivers"
OLD, NEW = "jhub-test", "jhub-new"


@pytest.fixture
def new_kube(tmp_path: Path) -> Iterator[FakeKube]:
    folder = tmp_path / "new-kube"
    folder.mkdir()
    emulator = FakeKube(folder)
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture
def old_env(  # noqa: PLR0917 - pytest passes fixtures by name
    config_dir: Path,
    run_task: Callable[..., TaskRun],
    kube: FakeKube,
    new_kube: FakeKube,
    fake_cloud: FakeCloud,
    fake_helm: FakeHelm,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> loading.Environment:
    """A capi-helm environment whose cluster OLD exists (on `kube`), with its releases."""
    fake_cloud.clouds_yaml(tmp_path, monkeypatch)
    assert run_task("config.init", "--env", ENV).code == 0
    path = config_dir / f"{ENV}.yaml"
    config = yaml.safe_load(path.read_text())
    config["cloud"] = "fake"
    config["cluster"] = merge(CLUSTER, {"driver": "capi-helm", "name": OLD})
    config["hub"]["floating_ip"] = ADDRESS
    path.write_text(yaml.safe_dump(config))
    secrets_path = config_dir / f"{ENV}.secrets.yaml"
    secrets = yaml.safe_load(secrets_path.read_text())
    secrets["oauth_client_secret"] = "client-secret-for-tests"
    secrets_path.write_text(yaml.safe_dump(secrets))
    environment = loading.load(ENV)
    fake_cloud.api_address_for[OLD] = kube.url
    fake_cloud.api_address_for[NEW] = new_kube.url
    assert cluster_deploy.run(
        environment, Console(), clock=fake_cloud.clock, connection=fake_cloud.conn
    )
    seed(kube, "capi-helm")
    seed(new_kube, "capi-helm")
    use_kubeconfig(kube, config_dir, ENV)  # the old cluster's, as cluster.kubeconfig wrote it
    for emulator, tag in ((kube, "old"), (new_kube, "new")):
        hub_pod(emulator, tmp_path / f"hub-{tag}", HUB_POD)
    for user in USERS:
        user_pod(kube, user)
    play_the_hub_deployment(fake_cloud, (kube, new_kube))
    stack = next(c["stack_id"] for c in fake_cloud.clusters.values() if c["name"] == OLD)
    for user in USERS:
        fake_cloud.add_volume(
            f"pvc-{user}",
            size=10,
            metadata={
                "cinder.csi.openstack.org/cluster": stack,
                "csi.storage.k8s.io/pvc/name": f"claim-{user}",
                "csi.storage.k8s.io/pvc/namespace": "jhub",
                "csi.storage.k8s.io/pv/name": f"pvc-{user}",
            },
        )
    # hub.floating_ip, allocated and (as if the old load balancer had let it go) free.
    fake_cloud.add_floating_ip(ADDRESS)
    fake_helm.leave("jhub", "jhub", ["deployed"], chart="jupyterhub", version="4.4.0")
    fake_helm.separate(config_dir / f"{ENV}.{NEW}.kubeconfig", "new")
    return environment


class FakeHub:
    """The few REST calls hub.health makes, as JupyterHub 5.5.4 answers them:
    handlers/pages.py HealthCheckHandler (/hub/api/health, 200); apihandlers/users.py
    UserAPIHandler (GET 404 for an unknown user, POST 201), UserServerAPIHandler (POST 201
    once the server is ready, DELETE 204 once it is stopped); a token other than the
    health-check service's is refused with 403 (apihandlers/base.py check_xsrf/get_current_user)."""

    def __init__(self, mocker: requests_mock.Mocker, base: str, token: str) -> None:
        self.token = token
        self.users: dict[str, dict[str, Any]] = {}
        self.starts = 0
        mocker.get(f"{base}hub/api/health", status_code=200, json={})
        user = re.compile(re.escape(f"{base}hub/api/users/") + r"([^/]+)$")
        server = re.compile(re.escape(f"{base}hub/api/users/") + r"([^/]+)/server$")
        mocker.get(user, json=self.get_user)
        mocker.post(user, json=self.create_user)
        mocker.post(server, json=self.start)
        mocker.delete(server, json=self.stop)
        mocker.get(
            re.compile(re.escape(f"{base}hub/api/users/") + r"[^/]+/server/progress$"),
            text="",
        )

    def _name(self, request: Any, context: Any) -> str | None:
        if request.headers.get("Authorization") != f"token {self.token}":
            context.status_code = 403
            return None
        return str(request.path.split("/")[4])

    def get_user(self, request: Any, context: Any) -> dict[str, Any]:
        name = self._name(request, context)
        if name is None:
            return {"message": "Invalid credentials"}
        if name not in self.users:
            context.status_code = 404
            return {"message": "Not Found"}
        return {"name": name, "servers": self.users[name]}

    def create_user(self, request: Any, context: Any) -> dict[str, Any]:
        name = self._name(request, context)
        if name is not None:
            self.users.setdefault(name, {})
            context.status_code = 201
        return {}

    def start(self, request: Any, context: Any) -> dict[str, Any]:
        name = self._name(request, context)
        if name is not None:
            self.users[name][""] = {"ready": True, "pending": None}
            self.starts += 1
            context.status_code = 201
        return {}

    def stop(self, request: Any, context: Any) -> dict[str, Any]:
        name = self._name(request, context)
        if name is not None:
            self.users[name].pop("", None)
            context.status_code = 204
        return {}


@pytest.fixture
def fake_hub(old_env: loading.Environment) -> Iterator[FakeHub]:
    """The new hub at hub.domain (the fake cloud passes unknown hosts on to this mocker)."""
    assert old_env.settings.hub.url and old_env.secrets
    with requests_mock.Mocker(real_http=True) as mocker:
        yield FakeHub(mocker, old_env.settings.hub.url, old_env.secrets.health_check_token)


USERS = ("alice", "bob")
ADDRESS = "203.0.113.7"  # what seed() gives proxy-public on both clusters
HUB_POD = "hub-7c9d"  # what seed() leaves running
VOLUME = "/srv/jupyterhub"  # z2jh 4.4.0 templates/hub/deployment.yaml, the hub-db-dir mount


def hub_pod(emulator: FakeKube, folder: Path, name: str) -> None:
    """The seeded hub pod's /srv/jupyterhub is `folder`, with a sqlite database in it."""
    folder.mkdir()
    db = sqlite3.connect(folder / "jupyterhub.sqlite")
    db.execute("create table users (name text)")
    db.execute("insert into users values (?)", (folder.name,))
    db.commit()
    db.close()
    # Scheduled, as the API server wants before it lets anyone exec into it.
    emulator.patch("pods", name, {"spec": {"nodeName": "worker-0"}}, "jhub")

    hub_runtime(emulator, folder)


def play_the_hub_deployment(cloud: FakeCloud, emulators: tuple[FakeKube, ...]) -> None:
    """The emulator runs no controllers: while the tool waits (a sleep on the clock), a
    deleted hub pod comes back, as the chart's Deployment (replicas 1) would bring it.
    The fake cloud's clock is swapped for one that does this on each sleep (the same
    `now`, so the cloud's transitions settle as before)."""

    def on_sleep(seconds: float) -> None:
        for emulator in emulators:
            if emulator.get("pods", HUB_POD, "jhub") is None:
                pod = ready_pod(HUB_POD, "hub")
                pod["spec"]["nodeName"] = "worker-0"
                emulator.create(pod)

    cloud.clock = Clock(start=cloud.clock.now, on_sleep=on_sleep)


def hub_runtime(emulator: FakeKube, folder: Path) -> None:
    """Play the hub image: its python3, with the hub-db-dir mount at `folder`."""

    def runtime(container: str, command: list[str]) -> list[str] | None:
        if container != "hub" or command[:1] != ["python3"]:
            return None
        return [
            sys.executable,
            *(str(folder) + a[len(VOLUME) :] if a.startswith(VOLUME) else a for a in command[1:]),
        ]

    emulator.on_exec("jhub", HUB_POD, runtime)


def user_pod(emulator: FakeKube, user: str) -> None:
    # KubeSpawner 7.0.0 get_pod_manifest: jupyter-<user>, component=singleuser-server.
    emulator.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"jupyter-{user}",
                "namespace": "jhub",
                "labels": {"component": "singleuser-server", "app": "jupyterhub"},
                "annotations": {"hub.jupyter.org/username": user},
            },
            "spec": {"nodeName": "worker-0", "containers": [{"name": "notebook", "image": "u"}]},
            "status": {"phase": "Running"},
        }
    )


def db_users(folder: Path) -> list[str]:
    db = sqlite3.connect(folder / "jupyterhub.sqlite")
    try:
        return [row[0] for row in db.execute("select name from users")]
    finally:
        db.close()


def names(emulator: FakeKube, resource: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in emulator.objects(resource, None))


def clusters_named(cloud: FakeCloud, name: str) -> int:
    return sum(1 for c in cloud.clusters.values() if c["name"] == name)


def run(
    environment: loading.Environment,
    cloud: FakeCloud,
    *,
    dry_run: bool = False,
    yes: bool = False,
) -> list[str]:
    return replace.run(
        environment,
        Console(),
        new_name=NEW,
        dry_run=dry_run,
        grace=30,
        yes=yes,
        clock=cloud.clock,
        connection=cloud.conn,
    )


def new_releases(fake_helm: FakeHelm) -> list[str]:
    return sorted(r["name"] for r in fake_helm.releases("new").values())


def finish(environment: loading.Environment, cloud: FakeCloud) -> list[str]:
    """Run to the end without --yes: every step but the deletion of the old cluster."""
    done = run(environment, cloud)
    assert replace.STEP_DELETE not in done
    return done


def jhub_values(fake_helm: FakeHelm) -> dict[str, Any]:
    values: dict[str, Any] = fake_helm.releases("new")["jhub/jhub"]["values"]
    return values


def load_balancer_ip(values: dict[str, Any]) -> Any:
    return values.get("proxy", {}).get("service", {}).get("loadBalancerIP")


def test_every_step_to_a_healthy_new_hub_then_the_old_cluster_only_with_yes(  # noqa: PLR0917
    old_env: loading.Environment,
    fake_cloud: FakeCloud,
    fake_helm: FakeHelm,
    kube: FakeKube,
    new_kube: FakeKube,
    fake_hub: FakeHub,
    config_dir: Path,
    tmp_path: Path,
) -> None:
    old_before = fake_helm.releases()
    kube.clear_requests()
    started = fake_cloud.clock.monotonic()

    console, output = buffered_console()
    done = replace.run(
        old_env, console, new_name=NEW, grace=30, clock=fake_cloud.clock, connection=fake_cloud.conn
    )
    assert done == list(replace.STEPS[:-1])
    # Step 8 without --yes: the exact command, and the old cluster is still there.
    assert f"invoke cluster.replace --env {ENV} --to {NEW} --yes" in output.getvalue()
    assert clusters_named(fake_cloud, OLD) == 1
    assert clusters_named(fake_cloud, NEW) == 1
    assert new_releases(fake_helm) == ["blackbox", "jhub", "prometheus"]
    assert "ANNOUNCEMENT: the servers of 2 user(s) (alice, bob)" in output.getvalue()
    # Step 3: after the 30 s grace, the user pods are gone from the old cluster. Step 6:
    # its proxy-public became ClusterIP. Those are the only writes to its API; its releases
    # are as they were.
    assert fake_cloud.clock.monotonic() - started >= 30
    assert [p for p in names(kube, "pods") if p.startswith("jupyter-")] == []
    writes = kube.mutating_requests()
    assert sorted((r.method, r.path.rsplit("/", 1)[-1]) for r in writes) == [
        ("DELETE", "jupyter-alice"),
        ("DELETE", "jupyter-bob"),
        ("PATCH", "proxy-public"),
    ]
    service = kube.get("services", "proxy-public", "jhub")
    assert service is not None and service["spec"]["type"] == "ClusterIP"
    assert fake_helm.releases() == old_before
    # Step 4: the old hub's database is now the new hub's; the new hub pod was restarted.
    assert db_users(tmp_path / "hub-new") == ["hub-old"]
    assert ("DELETE", f"/api/v1/namespaces/jhub/pods/{HUB_POD}") in [
        (r.method, r.path) for r in new_kube.mutating_requests()
    ]
    # Step 5: each user's old volume bound to their claim on the new cluster.
    assert names(new_kube, "persistentvolumes") == ["pvc-alice", "pvc-bob"]
    assert names(new_kube, "persistentvolumeclaims") == ["claim-alice", "claim-bob"]
    # Step 6: the new hub's release now pins hub.floating_ip (the cloud controller attaches
    # it; this tool never does, so no floating IP request was made).
    assert load_balancer_ip(jhub_values(fake_helm)) == ADDRESS
    assert fake_cloud.count(None, r"/floatingips") == fake_cloud.count("GET", r"/floatingips")
    # Step 7: hub.health started and stopped one server on the new hub.
    assert fake_hub.starts == 1
    state = config_dir / f"{ENV}.state" / "replace.json"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    recorded = json.loads(state.read_text())
    assert recorded["from"] == OLD and recorded["to"] == NEW
    assert sorted(recorded["done"]) == sorted(replace.STEPS[:-1])
    assert Path(recorded["backup"]).exists()
    kubeconfig = config_dir / f"{ENV}.{NEW}.kubeconfig"
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    assert (
        yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        == (fake_cloud.api_address_for[NEW])
    )

    # A second run repeats nothing: the recorded steps are not even looked at again.
    calls = len(fake_helm.calls())
    fake_cloud.log.clear()
    kube.clear_requests()
    new_kube.clear_requests()
    console, output = buffered_console()
    replace.run(old_env, console, new_name=NEW, clock=fake_cloud.clock, connection=fake_cloud.conn)
    assert output.getvalue().count("done earlier") == len(replace.STEPS) - 1
    assert fake_cloud.log.mutating_calls() == []
    assert kube.mutating_requests() == [] and new_kube.mutating_requests() == []
    assert len(fake_helm.calls()) == calls
    assert fake_hub.starts == 1

    # With --yes, the old cluster goes, and only it.
    done = run(old_env, fake_cloud, yes=True)
    assert done == [replace.STEP_DELETE]
    assert clusters_named(fake_cloud, OLD) == 0
    assert clusters_named(fake_cloud, NEW) == 1
    assert len(fake_helm.calls()) == calls


def test_interrupted_while_the_address_is_still_on_the_old_load_balancer(
    old_env: loading.Environment, fake_cloud: FakeCloud, fake_helm: FakeHelm, fake_hub: FakeHub
) -> None:
    # The old load balancer's VIP port still holds the address (its deletion is slow).
    fip = next(f for f in fake_cloud.floating_ips.values() if f["floating_ip_address"] == ADDRESS)
    fip["port_id"] = "0c1d-old-lb-vip"
    with pytest.raises(OperationFailed) as failed:
        run(old_env, fake_cloud)
    assert "released by the old load balancer" in failed.value.cause
    assert load_balancer_ip(jhub_values(fake_helm)) is None
    assert fake_hub.starts == 0
    # cloud-provider-openstack deleted the load balancer: Neutron let the address go.
    fip["port_id"] = None

    finish(old_env, fake_cloud)
    assert load_balancer_ip(jhub_values(fake_helm)) == ADDRESS
    assert fake_hub.starts == 1
    assert clusters_named(fake_cloud, NEW) == 1
    assert new_releases(fake_helm) == ["blackbox", "jhub", "prometheus"]


def test_an_unhealthy_new_hub_stops_before_the_old_cluster_is_offered(
    old_env: loading.Environment, fake_cloud: FakeCloud, fake_hub: FakeHub, config_dir: Path
) -> None:
    # The new hub runs with another health-check token than this environment's.
    good, fake_hub.token = fake_hub.token, "another-token"
    with pytest.raises(OperationFailed) as failed:
        run(old_env, fake_cloud, yes=True)
    assert "the new hub is not healthy" in failed.value.cause
    recorded = json.loads((config_dir / f"{ENV}.state" / "replace.json").read_text())
    assert replace.STEP_HEALTH not in recorded["done"]
    assert clusters_named(fake_cloud, OLD) == 1
    fake_hub.token = good

    assert run(old_env, fake_cloud, yes=True) == [replace.STEP_HEALTH, replace.STEP_DELETE]
    assert clusters_named(fake_cloud, OLD) == 0


def test_interrupted_in_the_cluster_step_a_re_run_makes_one_cluster(
    old_env: loading.Environment, fake_hub: FakeHub, fake_cloud: FakeCloud, fake_helm: FakeHelm
) -> None:
    # Magnum keeps failing the certificate signing: the kubeconfig cannot be written.
    fake_cloud.fail_request("POST", r"/certificates", kind="503", times=50)
    with pytest.raises(OperationFailed):
        run(old_env, fake_cloud)
    assert clusters_named(fake_cloud, NEW) == 1
    assert new_releases(fake_helm) == []
    fake_cloud.clear_faults()

    finish(old_env, fake_cloud)
    assert clusters_named(fake_cloud, NEW) == 1
    assert new_releases(fake_helm) == ["blackbox", "jhub", "prometheus"]


def test_interrupted_in_the_releases_step_a_re_run_finishes_them_once(
    old_env: loading.Environment,
    fake_hub: FakeHub,
    fake_cloud: FakeCloud,
    fake_helm: FakeHelm,
    config_dir: Path,
) -> None:
    fake_helm.fail_release("jhub", "Error: UPGRADE FAILED: context deadline exceeded\n")
    with pytest.raises(OperationFailed) as failed:
        run(old_env, fake_cloud)
    assert "releases failed on jhub-new: hub" in failed.value.cause
    recorded = json.loads((config_dir / f"{ENV}.state" / "replace.json").read_text())
    assert sorted(recorded["done"]) == ["new cluster"]
    fake_helm.heal("upgrade-jhub")

    finish(old_env, fake_cloud)
    assert clusters_named(fake_cloud, NEW) == 1
    assert new_releases(fake_helm) == ["blackbox", "jhub", "prometheus"]


def test_a_dry_run_changes_nothing(
    old_env: loading.Environment,
    fake_cloud: FakeCloud,
    fake_helm: FakeHelm,
    kube: FakeKube,
    config_dir: Path,
) -> None:
    fake_cloud.log.clear()
    kube.clear_requests()
    run(old_env, fake_cloud, dry_run=True)
    assert fake_cloud.log.mutating_calls() == []
    assert kube.mutating_requests() == []
    assert [p for p in names(kube, "pods") if p.startswith("jupyter-")] == [
        "jupyter-alice",
        "jupyter-bob",
    ]
    assert clusters_named(fake_cloud, NEW) == 0
    assert new_releases(fake_helm) == []
    assert not (config_dir / f"{ENV}.state" / "replace.json").exists()


@pytest.mark.usefixtures("fake_hub")
def test_interrupted_in_the_hub_state_step_a_re_run_restores_the_same_backup_once(  # noqa: PLR0917
    old_env: loading.Environment,
    kube: FakeKube,
    fake_cloud: FakeCloud,
    new_kube: FakeKube,
    config_dir: Path,
    tmp_path: Path,
) -> None:
    # The new hub's image lacks python3 for now: the restore fails after the backup.
    new_kube.on_exec("jhub", HUB_POD, lambda container, command: None)
    with pytest.raises(OperationFailed):
        run(old_env, fake_cloud)
    recorded = json.loads((config_dir / f"{ENV}.state" / "replace.json").read_text())
    assert replace.STEP_HUB_STATE not in recorded["done"]
    assert replace.STEP_STOP in recorded["done"]
    backups = sorted((config_dir / f"{ENV}.backups").iterdir())
    assert [str(b) for b in backups] == [recorded["backup"]]
    hub_runtime(new_kube, tmp_path / "hub-new")
    kube.clear_requests()
    sleeps = len(fake_cloud.clock.sleeps)

    finish(old_env, fake_cloud)
    # Step 3 was recorded: no second announcement, grace period or pod deletion.
    assert [r for r in kube.mutating_requests() if r.method == "DELETE"] == []
    assert 30 not in fake_cloud.clock.sleeps[sleeps:]
    # The same backup, not a second one; its database is in the new hub.
    assert sorted((config_dir / f"{ENV}.backups").iterdir()) == backups
    assert db_users(tmp_path / "hub-new") == ["hub-old"]


def test_interrupted_in_the_volumes_step_a_re_run_binds_each_volume_once(
    old_env: loading.Environment,
    fake_hub: FakeHub,
    fake_cloud: FakeCloud,
    new_kube: FakeKube,
    config_dir: Path,
) -> None:
    fake_cloud.fail_request("GET", r"/volumes", kind="503", times=50)
    with pytest.raises(OperationFailed):
        run(old_env, fake_cloud)
    recorded = json.loads((config_dir / f"{ENV}.state" / "replace.json").read_text())
    assert replace.STEP_VOLUMES not in recorded["done"]
    assert names(new_kube, "persistentvolumes") == []
    fake_cloud.clear_faults()

    finish(old_env, fake_cloud)
    assert names(new_kube, "persistentvolumes") == ["pvc-alice", "pvc-bob"]
    assert names(new_kube, "persistentvolumeclaims") == ["claim-alice", "claim-bob"]
    assert clusters_named(fake_cloud, NEW) == 1


def test_bad_targets_are_refused_before_any_call(
    old_env: loading.Environment, fake_cloud: FakeCloud, config_dir: Path
) -> None:
    fake_cloud.log.clear()
    for name, message in ((OLD, "is the current cluster.name"), ("No_Such", "not a cluster name")):
        with pytest.raises(BadInput) as refused:
            replace.run(old_env, Console(), new_name=name, connection=fake_cloud.conn)
        assert message in str(refused.value.problems[0])
    # A replacement under way is finished with the same --to.
    state = config_dir / f"{ENV}.state" / "replace.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"from": OLD, "to": "jhub-other", "done": {}}))
    with pytest.raises(BadInput) as under_way:
        run(old_env, fake_cloud)
    assert "re-run with --to jhub-other" in str(under_way.value.problems[0])
    assert fake_cloud.log.mutating_calls() == []


def test_the_task_wants_to(run_task: Callable[..., TaskRun], config_dir: Path) -> None:
    result = run_task("cluster.replace", "--env", "example")
    assert result.code == 2
    assert "option --to: needs the new cluster's name" in result.err
