"""cluster.kubeconfig: CA from Magnum, our key, Magnum-signed certificate, mode 0600."""

from __future__ import annotations

import base64
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from tests.cluster.conftest import ENV, EnvFactory
from tests.support.fakecloud import FakeCloud

SIGN = r"/v1/certificates$"


@pytest.fixture
def cluster(cloud: FakeCloud, make_env: EnvFactory) -> dict[str, Any]:
    make_env()
    return cloud.add_cluster("jhub-test", cloud.add_template("jhub-test-template")["uuid"])


def decoded(document: dict[str, Any], section: str, key: str) -> bytes:
    return base64.b64decode(document[section][0][section[:-1]][key])


def test_writes_a_private_kubeconfig_wired_to_the_cluster(
    cloud: FakeCloud,
    cluster: dict[str, Any],
    config_dir: Path,
    run_task: Callable[..., Any],
) -> None:
    result = run_task("cluster.kubeconfig", "--env", ENV)

    assert result.code == 0, result.err
    path = config_dir / f"{ENV}.kubeconfig"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"export KUBECONFIG={path}" in result.out
    document = yaml.safe_load(path.read_text())
    assert document["current-context"] == "jhub-test"
    assert (
        document["clusters"][0]["cluster"]["server"]
        == cloud.clusters[cluster["uuid"]]["api_address"]
    )

    ca_pem = decoded(document, "clusters", "certificate-authority-data")
    assert ca_pem.decode() == cloud.ca_pem(cluster["uuid"])
    ca = x509.load_pem_x509_certificate(ca_pem)
    cert = x509.load_pem_x509_certificate(decoded(document, "users", "client-certificate-data"))
    key_pem = decoded(document, "users", "client-key-data")
    key = serialization.load_pem_private_key(key_pem, password=None)

    # Signed by the cluster's CA, for our key, as cluster-admin.
    cert.verify_directly_issued_by(ca)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = serialization.Encoding.PEM
    assert cert.public_key().public_bytes(pem, spki) == key.public_key().public_bytes(pem, spki)
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "system:masters"
    )
    [sign] = cloud.log.find("POST", SIGN)
    assert sign.body["cluster_uuid"] == cluster["uuid"]
    assert "PRIVATE KEY" not in str(sign.body)

    # The key is never shown, in any form.
    key_body = "".join(key_pem.decode().splitlines()[1:-1])
    for text in (result.out, result.err):
        assert "PRIVATE KEY" not in text
        assert key_body[:40] not in text
        assert base64.b64encode(key_pem).decode()[:40] not in text


def test_the_kubernetes_client_accepts_it(
    cluster: dict[str, Any], config_dir: Path, run_task: Callable[..., Any]
) -> None:
    from kubernetes import client, config

    assert run_task("cluster.kubeconfig", "--env", ENV).code == 0
    configuration = client.Configuration()
    config.load_kube_config(
        config_file=str(config_dir / f"{ENV}.kubeconfig"), client_configuration=configuration
    )
    assert configuration.host.startswith("https://203.0.113.")
    assert Path(configuration.ssl_ca_cert).read_text().startswith("-----BEGIN CERTIFICATE")
    assert Path(configuration.cert_file).is_file() and Path(configuration.key_file).is_file()


def test_a_good_kubeconfig_is_kept_and_renew_replaces_it(
    cloud: FakeCloud,
    cluster: dict[str, Any],
    config_dir: Path,
    run_task: Callable[..., Any],
) -> None:
    path = config_dir / f"{ENV}.kubeconfig"
    assert run_task("cluster.kubeconfig", "--env", ENV).code == 0
    first = path.read_text()

    again = run_task("cluster.kubeconfig", "--env", ENV)
    assert again.code == 0 and "– " in again.out and "valid until" in again.out
    assert path.read_text() == first
    assert cloud.count("POST", SIGN) == 1

    renewed = run_task("cluster.kubeconfig", "--env", ENV, "--renew")
    assert renewed.code == 0
    assert cloud.count("POST", SIGN) == 2
    assert path.read_text() != first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_loose_mode_is_tightened(
    cluster: dict[str, Any], config_dir: Path, run_task: Callable[..., Any]
) -> None:
    path = config_dir / f"{ENV}.kubeconfig"
    assert run_task("cluster.kubeconfig", "--env", ENV).code == 0
    path.chmod(0o644)

    result = run_task("cluster.kubeconfig", "--env", ENV)

    assert result.code == 0 and "mode set to 0600" in result.out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_path_option_and_dry_run(
    cloud: FakeCloud, cluster: dict[str, Any], tmp_path: Path, run_task: Callable[..., Any]
) -> None:
    target = tmp_path / "elsewhere" / "kube.yaml"

    planned = run_task("cluster.kubeconfig", "--env", ENV, "--path", str(target), "--dry-run")
    assert planned.code == 0 and not target.exists()
    assert cloud.count("POST", SIGN) == 0

    written = run_task("cluster.kubeconfig", "--env", ENV, "--path", str(target))
    assert written.code == 0 and stat.S_IMODE(target.stat().st_mode) == 0o600


def test_cluster_not_ready_is_a_clear_failure(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    make_env()
    cloud.settle_polls = None
    cloud.add_cluster("jhub-test", status="CREATE_IN_PROGRESS")

    result = run_task("cluster.kubeconfig", "--env", ENV)

    assert result.code == 1
    assert "CREATE_IN_PROGRESS" in result.err and "cluster.status --watch" in result.err
    assert cloud.count("POST", SIGN) == 0


def test_missing_cluster_says_how_to_make_it(
    cloud: FakeCloud, make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    make_env()
    result = run_task("cluster.kubeconfig", "--env", ENV)
    assert result.code == 1
    assert "cluster jhub-test does not exist" in result.err
    assert "invoke cluster.deploy --env cloudtest" in result.err
