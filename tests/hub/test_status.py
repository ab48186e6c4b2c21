"""hub.status after a deploy: kmock, the recording helm and a local HTTP server for health."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import TaskRun
from tests.hub import environments
from tests.hub.conftest import FLOATING_IP, running_hub, use_kubeconfig
from tests.support.components import ProgrammableHTTPServer
from tests.support.fake_helm import FakeHelm
from tests.support.fakekube import FakeKube

ENV = "live"
Run = Callable[..., TaskRun]


@pytest.fixture
def installed(run_task: Run, config_dir: Path, kube: FakeKube, fake_helm: FakeHelm) -> FakeKube:
    config = environments.native_secret()
    # OAuth: a native hub's deploy registers its admins through a port-forward, which
    # the emulator does not serve (tests/hub/test_deploy_admins.py covers that).
    config["hub"]["auth"] = environments.example()["hub"]["auth"]
    config["cluster"]["driver"] = "existing"
    config["hub"]["floating_ip"] = FLOATING_IP
    environments.write(config_dir, ENV, config)
    use_kubeconfig(kube, config_dir, ENV)
    running_hub(kube)
    deployed = run_task("hub.deploy", "--env", ENV)
    assert deployed.code == 0, deployed.err
    return kube


@pytest.fixture
def health(http_server_factory: Callable[..., ProgrammableHTTPServer]) -> ProgrammableHTTPServer:
    server = http_server_factory()
    server.respond("/hub/api/health", 200, body="")
    return server


def tls_secret(kube: FakeKube) -> None:
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": "hub-tls", "namespace": "jhub"},
            "data": {"tls.crt": "", "tls.key": ""},
        }
    )


def test_a_healthy_hub(run_task: Run, installed: FakeKube, health: ProgrammableHTTPServer) -> None:
    tls_secret(installed)
    result = run_task("hub.status", "--env", ENV, "--url", health.url)
    assert result.code == 0, result.err
    assert "✓ release: jhub revision 1, deployed, chart jupyterhub-4.4.0" in result.out
    assert "✓ hub pods: 1/1 ready" in result.out
    assert f"✓ load balancer: {FLOATING_IP}" in result.out
    assert "✓ certificate: secret hub-tls present" in result.out
    assert f"✓ health: {health.url}/hub/api/health: HTTP 200" in result.out


def test_problems_are_listed_and_fail(
    run_task: Run, installed: FakeKube, health: ProgrammableHTTPServer
) -> None:
    health.respond("/hub/api/health", 503)
    installed.patch(
        "services",
        "proxy-public",
        {"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.99"}]}}},
        namespace="jhub",
    )
    result = run_task("hub.status", "--env", ENV, "--url", health.url)
    assert result.code == 1
    assert f"✗ load balancer: 203.0.113.99, but hub.floating_ip is {FLOATING_IP}" in result.out
    assert "✗ certificate: secret hub-tls missing" in result.out
    assert "HTTP 503" in result.out
    assert "has problems: load balancer, certificate, health" in result.err


def test_not_installed(
    run_task: Run, config_dir: Path, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    environments.write(config_dir, ENV, environments.native_secret())
    use_kubeconfig(kube, config_dir, ENV)
    result = run_task("hub.status", "--env", ENV)
    assert result.code == 1
    assert "release jhub is not installed in namespace jhub" in result.err
    assert f"invoke hub.deploy --env {ENV}" in result.err
