"""`--debug` shows requests and tracebacks, never Secret data.

The real kubernetes client logs every response body at DEBUG
(kubernetes/client/rest.py, RESTClientObject.request: `logger.debug("response
body: %s", r.data)`), so reading the grafana-admin Secret or the hub's
certificate Secret would print the password or the private key. These tests run
the real client against the Kubernetes emulator (tests/support/fakekube.py) and
check every log record, in-process and from `invoke --debug` and `jhub --debug`
in a subprocess.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, TaskRun
from tests.support.fake_helm import FakeHelm
from tests.support.fakekube import FakeKube

# These runs rehearse on the Kubernetes emulator with the example's documentation values.
pytestmark = pytest.mark.usefixtures("documentation_values")

EXAMPLE: dict[str, Any] = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
ENV = "dbg"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def write_environment(config_dir: Path, kube: FakeKube) -> dict[str, str]:
    config = copy.deepcopy(EXAMPLE)
    config["cluster"]["kubeconfig"] = str(kube.kubeconfig_path)
    (config_dir / f"{ENV}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    chosen = {
        "proxy_secret_token": secrets.token_hex(32),
        "metrics_token": secrets.token_hex(32),
        "health_check_token": secrets.token_hex(32),
        "grafana_admin_password": secrets.token_urlsafe(24),
        "oauth_client_secret": secrets.token_urlsafe(24),
    }
    path = config_dir / f"{ENV}.secrets.yaml"
    path.write_text(yaml.safe_dump(chosen))
    path.chmod(0o600)
    return chosen


def leaked(text: str, values: list[str]) -> list[str]:
    """Which values (or their base64 forms) appear in the text."""
    return [v for v in values if v in text or b64(v) in text or b64(v).rstrip("=") in text]


def test_debug_log_of_a_read_secret_shows_no_data(
    config_dir: Path,
    kube: FakeKube,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Secret nobody registered (the certificate's private key) is still hidden."""
    from kubernetes import client

    from scripts.core import kube as core_kube

    key = private_key_pem()
    acme = json.dumps({"letsencrypt": {"Certificates": [{"key": b64(key)}]}})
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "jhub"}})
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": "proxy-public-tls-acme", "namespace": "jhub"},
            "data": {"acme.json": b64(acme)},
        }
    )
    caplog.set_level(logging.DEBUG)
    api = core_kube.api_client(kube.kubeconfig_path)
    core = client.CoreV1Api(api)
    read = core.read_namespaced_secret("proxy-public-tls-acme", "jhub")
    listed = core.list_namespaced_secret("jhub")
    assert read.data["acme.json"] == b64(acme)  # the caller still gets the data
    assert listed.items
    bodies = [r for r in caplog.records if r.getMessage().startswith("response body")]
    assert len(bodies) >= 2, "the client logged no response body: nothing was tested"
    assert leaked(caplog.text, [acme, key]) == []
    assert b64(acme)[:40] not in caplog.text
    assert "«redacted»" in caplog.text


def test_invoke_debug_monitoring_dry_run_shows_no_secret(
    config_dir: Path,
    kube: FakeKube,
    fake_helm: FakeHelm,
    run_task: Callable[..., TaskRun],
) -> None:
    """issue 15: `invoke --debug monitoring.deploy --dry-run` printed grafana-admin."""
    chosen = write_environment(config_dir, kube)
    assert run_task("monitoring.deploy", "--env", ENV).code == 0
    assert kube.get("secrets", "grafana-admin", "prometheus") is not None
    for command in (["-m", "invoke"], ["-m", "scripts.cli"]):
        done = subprocess.run(
            [sys.executable, *command, "--debug", "monitoring.deploy", "--dry-run", "--env", ENV],
            cwd=ROOT,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-2000:]
        assert "response body" in output, "no debug log of the client: nothing was tested"
        assert "grafana-admin" in output
        assert leaked(output, list(chosen.values())) == [], command


def test_a_debug_traceback_is_redacted(
    config_dir: Path, kube: FakeKube, fake_helm: FakeHelm, run_task: Callable[..., TaskRun]
) -> None:
    """An exception that quotes a secret (an API body, helm's stderr) is redacted too."""
    chosen = write_environment(config_dir, kube)
    password = chosen["grafana_admin_password"]
    fake_helm.fail("upgrade", f"Error: values rejected: adminPassword={password}\n")
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "--debug", "monitoring.deploy", "--env", ENV],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-2000:]
    assert "Traceback" in output and "values rejected" in output
    assert leaked(output, [password]) == []
