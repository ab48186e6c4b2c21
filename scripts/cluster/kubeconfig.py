"""`invoke cluster.kubeconfig`: what `openstack coe cluster config` does, kept private.

The cluster's CA comes from Magnum's certificates API; a fresh private key and
a certificate request (CN admin, O system:masters) are made here and Magnum's
CA signs the request. CA, certificate and key go into one kubeconfig written
with mode 0600 (never wider, not even for a moment). The key is never printed.
A kubeconfig that still matches the cluster and whose certificate is valid for
more than a week is left alone unless --renew is given.
"""

from __future__ import annotations

import base64
import datetime
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..core import cloud
from ..core.console import Console
from ..core.errors import BadInput, OperationFailed, Problem
from ..core.loading import Environment
from ..core.private_files import write_private
from ..core.waiting import Clock
from . import watch
from .deploy import only_one
from .magnum import Magnum

if TYPE_CHECKING:
    from openstack.connection import Connection

RENEW_BEFORE = datetime.timedelta(days=7)
# The identity `openstack coe cluster config` asks for: cluster-admin via RBAC.
SUBJECT = (("CN", "admin"), ("O", "system:masters"))


def run(
    environment: Environment,
    ui: Console,
    *,
    path: Path | None = None,
    renew: bool = False,
    dry_run: bool = False,
    clock: Clock | None = None,
    connection: Connection | None = None,
) -> Path:
    settings = environment.settings
    config = settings.cluster
    target = path or environment.kubeconfig
    if config.driver == "existing":
        if not environment.kubeconfig.is_file():
            raise BadInput(
                Problem(
                    "cluster.kubeconfig",
                    f"{environment.kubeconfig} does not exist; driver 'existing' reads the "
                    "kubeconfig you provide there",
                )
            )
        ui.print(f"driver 'existing': the kubeconfig is yours, {environment.kubeconfig}")
        ui.print(f"export KUBECONFIG={environment.kubeconfig}")
        return environment.kubeconfig

    magnum = Magnum(connection or cloud.connect(settings), clock)
    found = only_one(
        magnum.clusters_named(config.name),
        f"clusters named {config.name!r}",
        "openstack coe cluster delete UUID",
    )
    cluster = magnum.cluster(str(found["uuid"])) if found else None
    if cluster is None:
        raise OperationFailed(
            f"cluster {config.name} does not exist in cloud {settings.cloud!r}",
            f"create it with `invoke cluster.deploy --env {environment.name}`",
        )
    status = str(cluster.get("status", ""))
    server = str(cluster.get("api_address") or "")
    # UPDATE_IN_PROGRESS (a node-group change) and UPDATE_FAILED (a failed node group)
    # leave the control plane and its certificate authority as they were.
    if not (watch.usable(status) or status == "UPDATE_IN_PROGRESS") or not server:
        raise OperationFailed(
            f"cluster {config.name} is {status} and has no API address yet",
            f"wait for CREATE_COMPLETE (`invoke cluster.status --watch --env {environment.name}`)",
        )
    uuid = str(cluster["uuid"])
    ca_pem = magnum.ca_certificate(uuid)

    with ui.step(f"kubeconfig {target}") as step:
        current = still_good(target, server, ca_pem)
        if current and not renew:
            if stat.S_IMODE(target.stat().st_mode) != 0o600:
                target.chmod(0o600)
                step.done("valid; mode set to 0600")
            else:
                step.unchanged(f"valid until {current:%Y-%m-%d} for {server}")
        elif dry_run:
            ui.print(f"  would have Magnum sign a new client certificate and write {target}")
            step.planned("would be written")
        else:
            key_pem, csr_pem = new_key_and_request()
            cert_pem = magnum.sign(uuid, csr_pem)
            check_signed(cert_pem, key_pem)
            document = build(config.name, server, ca_pem, cert_pem, key_pem)
            write_private(target, yaml.safe_dump(document, sort_keys=False))
            step.done(f"written (mode 0600) for {server}")
    ui.print(f"export KUBECONFIG={target}")
    return target


def new_key_and_request() -> tuple[str, str]:
    """A fresh RSA key and a certificate request for it, both PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    oids = {"CN": NameOID.COMMON_NAME, "O": NameOID.ORGANIZATION_NAME}
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(oids[k], v) for k, v in SUBJECT]))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return key_pem, request.public_bytes(serialization.Encoding.PEM).decode()


def check_signed(cert_pem: str, key_pem: str) -> None:
    """The certificate Magnum returned must be for our key, or kubectl fails obscurely."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(
        serialization.Encoding.PEM, spki
    ) != key.public_key().public_bytes(serialization.Encoding.PEM, spki):
        raise OperationFailed(
            "Magnum returned a certificate for a different key",
            "re-run `invoke cluster.kubeconfig --renew`; if it repeats, report it to the cloud",
        )


def build(name: str, server: str, ca_pem: str, cert_pem: str, key_pem: str) -> dict[str, Any]:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    user = f"{name}-admin"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)}}
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": b64(cert_pem),
                    "client-key-data": b64(key_pem),
                },
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user}}],
        "current-context": name,
    }


def still_good(path: Path, server: str, ca_pem: str) -> datetime.datetime | None:
    """The certificate's expiry when the file still fits this cluster, else None."""
    from cryptography import x509

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        context = next(
            c["context"] for c in document["contexts"] if c["name"] == document["current-context"]
        )
        cluster = next(
            c["cluster"] for c in document["clusters"] if c["name"] == context["cluster"]
        )
        user = next(u["user"] for u in document["users"] if u["name"] == context["user"])
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
        cert = x509.load_pem_x509_certificate(base64.b64decode(user["client-certificate-data"]))
        has_key = bool(user.get("client-key-data"))
    except (OSError, ValueError, KeyError, TypeError, StopIteration, yaml.YAMLError):
        return None
    expires = cert.not_valid_after_utc
    now = datetime.datetime.now(tz=datetime.UTC)
    same_ca = _normalise(ca) == _normalise(ca_pem)
    if cluster.get("server") != server or not same_ca or not has_key:
        return None
    return expires if expires - now > RENEW_BEFORE else None


def _normalise(pem: str) -> str:
    return "".join(pem.split())
