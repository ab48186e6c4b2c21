"""hub.deploy and deploy register the native-sign-in admins before the hub goes public.

A real JupyterHub with NativeAuthenticator and configurable-http-proxy runs on loopback;
kmock plays the cluster (a ready hub pod, the proxy-public load balancer) and the
recording helm the release. Only the Kubernetes port-forward stream is replaced: the
tunnel's relay connects each local connection to the test hub instead of opening a
pods/portforward websocket (which the emulator does not serve).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from scripts.hub import hub_tunnel
from tests.conftest import TaskRun
from tests.hub import environments
from tests.hub.conftest import running_hub, use_kubeconfig
from tests.support.components import JupyterHubFactory, JupyterHubServer
from tests.support.fake_helm import FakeHelm
from tests.support.fakekube import FakeKube

ENV = "event"
ADMIN = "hubadmin"
Run = Callable[..., TaskRun]


def native_config() -> dict[str, Any]:
    config = environments.example()
    config["cluster"]["driver"] = "existing"
    config["hub"]["domain"] = None
    config["hub"]["floating_ip"] = None
    config["hub"]["https"] = {"mode": "off"}
    config["hub"]["auth"] = {"type": "native", "native": {"admin_users": [ADMIN, "John.Smith"]}}
    return config


@pytest.fixture
def hub(jupyterhub_factory: JupyterHubFactory) -> JupyterHubServer:
    return jupyterhub_factory(authenticator="native", admin_users=(ADMIN, "john.smith"))


@pytest.fixture
def streams(hub: JupyterHubServer, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Each stream the tunnel opens, as (namespace, pod); it reaches the test hub."""
    opened: list[tuple[str, str]] = []
    address = urlsplit(hub.url)

    def open_stream(api: Any, namespace: str, pod: str) -> socket.socket:
        opened.append((namespace, pod))
        return socket.create_connection((address.hostname or "127.0.0.1", address.port or 80))

    monkeypatch.setattr(hub_tunnel, "open_stream", open_stream)
    return opened


@pytest.fixture
def cluster(config_dir: Path, kube: FakeKube, fake_helm: FakeHelm) -> Path:
    environments.write(config_dir, ENV, native_config())
    use_kubeconfig(kube, config_dir, ENV)
    running_hub(kube)
    return config_dir / f"{ENV}.secrets.yaml"


def stored(path: Path) -> dict[str, str]:
    return dict(yaml.safe_load(path.read_text())["native_admin_passwords"] or {})


def signups(hub: JupyterHubServer) -> int:
    return hub.process.log_text().count("POST /hub/signup")


def logs_in(hub: JupyterHubServer, name: str, password: str) -> bool:
    _, response = hub.login(name, password)
    return hub.login_succeeded(response)


def test_hub_deploy_registers_the_admins_before_it_prints_the_url(
    run_task: Run, hub: JupyterHubServer, streams: list[tuple[str, str]], cluster: Path
) -> None:
    result = run_task("hub.deploy", "--env", ENV, "--yes")

    assert result.code == 0, result.err
    passwords = stored(cluster)
    # Lowercased as the hub stores names (Authenticator.normalize_username).
    assert set(passwords) == {ADMIN, "john.smith"}
    assert logs_in(hub, ADMIN, passwords[ADMIN])
    assert logs_in(hub, "john.smith", passwords["john.smith"])
    assert signups(hub) == 2
    out = result.out
    assert out.index(f"admin {ADMIN}") < out.index("load balancer address") < out.index("hub: ")
    assert f"admins registered now: {ADMIN}, john.smith" in out
    assert passwords[ADMIN] not in out + result.err
    # Through the ready hub pod the cluster has (tests/hub/conftest.py: hub-7c9d).
    assert streams and set(streams) == {("jhub", "hub-7c9d")}

    again = run_task("hub.deploy", "--env", ENV, "--yes")
    assert again.code == 0, again.err
    assert f"admins already registered: {ADMIN}, john.smith" in again.out
    assert signups(hub) == 2


def test_an_admin_name_taken_first_fails_the_deploy(
    run_task: Run, hub: JupyterHubServer, streams: list[tuple[str, str]], cluster: Path
) -> None:
    assert "successful" in hub.signup(ADMIN, "an-intruders-passphrase-42").text

    result = run_task("hub.deploy", "--env", ENV, "--yes")

    assert result.code == 1
    assert "someone else may hold admin rights" in result.err
    assert "Traceback" not in result.err
    assert "hub: http" not in result.out


def test_a_dry_run_registers_nobody(
    run_task: Run, hub: JupyterHubServer, streams: list[tuple[str, str]], cluster: Path
) -> None:
    result = run_task("hub.deploy", "--env", ENV, "--dry-run")

    assert result.code == 0, result.err
    assert "would register the admin accounts through a port-forward" in result.out
    assert streams == []
    assert signups(hub) == 0


def test_the_top_level_deploy_registers_them_too(
    hub: JupyterHubServer, streams: list[tuple[str, str]], cluster: Path
) -> None:
    from scripts import orchestrate
    from scripts.core import loading

    environment = loading.load(ENV, require_secrets=True)
    (result,) = orchestrate.run_parallel(
        {"hub": orchestrate.release_jobs(environment, dry_run=False, clock=None)["hub"]},
        orchestrate.buffered_console()[0],
    )
    assert result.ok, result.error
    assert f"admins registered now: {ADMIN}, john.smith" in result.output
    assert set(stored(cluster)) == {ADMIN, "john.smith"}


def test_the_tunnel_carries_several_connections(hub: JupyterHubServer) -> None:
    import requests

    address = urlsplit(hub.url)

    def connect() -> socket.socket:
        return socket.create_connection((address.hostname or "127.0.0.1", address.port or 80))

    with hub_tunnel.relay(connect) as port:
        for _ in range(3):
            # A fresh connection each time (no keep-alive pool shared between them).
            with requests.Session() as session:
                answer = session.get(f"http://127.0.0.1:{port}/hub/api/health", timeout=10)
                assert answer.status_code == 200
        page = requests.get(f"http://127.0.0.1:{port}/hub/signup", timeout=10)
        assert "signup" in page.text.lower()


def test_a_cluster_that_refuses_port_forwards_fails_at_once_with_the_remedy(
    run_task: Run, config_dir: Path, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    # The real stream opener against the emulator, which serves no pods/portforward.
    environments.write(config_dir, ENV, native_config())
    use_kubeconfig(kube, config_dir, ENV)
    running_hub(kube)

    result = run_task("hub.deploy", "--env", ENV, "--yes")

    assert result.code == 1
    assert "cannot open a port-forward to pod jhub/hub-7c9d to register the admins" in result.err
    assert "invoke hub.admins" in result.err
    assert "Traceback" not in result.err
