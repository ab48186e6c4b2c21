"""What the TLS tests share: the domain, certificates made here, traefik's store, the tasks.

traefik keeps its ACME store (acme.json) in the secret proxy-public-tls-acme (z2jh 4.4.0
jupyterhub/templates/proxy/autohttps/deployment.yaml: the secret-sync sidecar copies
/etc/acme/acme.json into it; the name from templates/_helpers-names.tpl). acme.json maps a
resolver name to {Account, Certificates}, each certificate {domain: {main, sans},
certificate, key, Store} with certificate and key base64 of PEM, because Go encodes
[]byte as base64 (traefik pkg/provider/acme: the json tags of Certificate and Domain).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from invoke.collection import Collection
from invoke.program import Program

from scripts.core import loading
from scripts.core.loading import Environment
from scripts.hub.tls import tasks
from tests.support.fakekube import FakeKube

ROOT = Path(__file__).resolve().parents[3]
DOMAIN = "jupyter.example.org"
NAMESPACE = "jhub"
LOOPBACK = "127.0.0.1"
LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
NOW = dt.datetime(2026, 7, 10, 12, 0, tzinfo=dt.UTC)
# Issuer names (organisation, common name) as Let's Encrypt's hierarchies spell them.
PRODUCTION = ("Let's Encrypt", "R11")
STAGING = ("(STAGING) Let's Encrypt", "(STAGING) Counterfeit Cashew R10")


# ------------------------------------------------------------------ certificates


@dataclass(frozen=True)
class Issued:
    chain: bytes  # leaf then issuer, PEM
    key: bytes  # the leaf's private key, PEM
    leaf: x509.Certificate


def _name(organisation: str | None, common: str) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if organisation:
        parts.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    return x509.Name(parts)


def issue(
    names: tuple[str, ...] = (DOMAIN,),
    *,
    issuer: tuple[str | None, str] | None = PRODUCTION,
    not_before: dt.datetime = NOW - dt.timedelta(days=30),
    days: int = 90,
) -> Issued:
    """A leaf for names, signed by a made-up CA named like issuer (None: self-signed)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(None, names[0])
    if issuer is None:
        ca_key, ca_name, ca_pem = key, subject, b""
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name(*issuer)
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before - dt.timedelta(days=365))
            .not_valid_after(not_before + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return Issued(leaf.public_bytes(serialization.Encoding.PEM) + ca_pem, key_pem, leaf)


def acme_store(*issued: Issued, resolver: str = "default") -> str:
    """traefik's acme.json holding these certificates (Go encodes []byte as base64)."""
    certificates = [
        {
            "domain": {
                "main": item.leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
            },
            "certificate": base64.b64encode(item.chain).decode(),
            "key": base64.b64encode(item.key).decode(),
            "Store": "default",
        }
        for item in issued
    ]
    account = {"Email": "ops@example.org", "Registration": {"uri": "https://acme/acct/1"}}
    return json.dumps({resolver: {"Account": account, "Certificates": certificates}})


def seed_secret(
    kube: FakeKube, name: str, data: dict[str, str], namespace: str = NAMESPACE
) -> None:
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "type": "Opaque",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
    )


# ------------------------------------------------------------------ traefik's words
# Log lines as traefik v3 writes them (and v2's logfmt where noted); the failures with
# the remedy each must produce. Let's Encrypt's problem types: RFC 8555 section 6.7.

STARTUP = [
    "2026-07-01T10:00:00Z INF Traefik version 3.6.12 built on 2026-06-20T10:00:00Z",
    "2026-07-01T10:00:00Z INF Starting provider *file.Provider",
    "2026-07-01T10:00:00Z INF Starting provider *acme.Provider",
    "2026-07-01T10:00:00Z INF Testing certificate renew... providerName=default.acme",
    # The harmless warnings the manual tells operators to ignore.
    "2026-07-01T10:00:01Z WRN No domain found in rule PathPrefix(`/`), the TLS options applied "
    "for this router will depend on the SNI of each request entryPointName=https "
    "routerName=default@file",
    "2026-07-01T10:00:01Z WRN Router uses the implicit default TLS store routerName=default@file",
    # traefik v2 logs our own port-80 probe's unknown token at error level: not an order error.
    'time="2026-07-01T10:00:02Z" level=error msg="Error getting challenge for token retrying in '
    '604.891ms" providerName=default.acme',
]


def acme_error(problem: str, status: int = 400) -> str:
    return (
        "2026-07-01T10:00:09Z ERR Unable to obtain ACME certificate for domains "
        f'error="unable to generate a certificate for the domains [{DOMAIN}]: error: one or '
        f'more domains had a problem:\\n[{DOMAIN}] acme: error: {status} :: {problem}\\n" '
        f'ACME CA={LETSENCRYPT_PRODUCTION} domains=["{DOMAIN}"] providerName=default.acme '
        "routerName=default@file rule=PathPrefix(`/`)"
    )


FAILURES: dict[str, tuple[str, str]] = {
    "rate-limited": (
        "2026-07-01T10:00:09Z ERR Unable to obtain ACME certificate for domains "
        f'error="unable to generate a certificate for the domains [{DOMAIN}]: acme: error: 429 '
        ":: POST :: https://acme-v02.api.letsencrypt.org/acme/new-order :: "
        "urn:ietf:params:acme:error:rateLimited :: too many certificates (5) already issued for "
        "this exact set of identifiers in the last 168h0m0s, retry after 2026-07-03 08:12:45 UTC: "
        'see https://letsencrypt.org/docs/rate-limits/" providerName=default.acme',
        "do not retry before 2026-07-03 08:12:45 UTC",
    ),
    "dns": (
        acme_error(
            f"urn:ietf:params:acme:error:dns :: DNS problem: NXDOMAIN looking up A for {DOMAIN} "
            "- check that a DNS record exists for this domain"
        ),
        f"fix the record ({DOMAIN} A {LOOPBACK})",
    ),
    "connection": (
        acme_error(
            f"urn:ietf:params:acme:error:connection :: 192.0.2.10: Fetching "
            f"http://{DOMAIN}/.well-known/acme-challenge/Qm9vbQ: Connection refused"
        ),
        "allow TCP port 80 from anywhere",
    ),
    "unauthorized": (
        acme_error(
            f"urn:ietf:params:acme:error:unauthorized :: 192.0.2.10: Invalid response from "
            f"http://{DOMAIN}/.well-known/acme-challenge/Qm9vbQ: 404",
            status=403,
        ),
        f"point every A/AAAA record of {DOMAIN} at {LOOPBACK} only",
    ),
}


# ------------------------------------------------------------------ environments and tasks


def write_environment(
    config_dir: Path, name: str, overrides: dict[str, Any] | None = None
) -> Environment:
    """config/<name>.yaml: the bundled example with dotted-key overrides."""
    data = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    (config_dir / f"{name}.yaml").write_text(yaml.safe_dump(data))
    return loading.load(name, require_secrets=False)


def invoke_hub(*argv: str) -> int:
    """Run `invoke hub.<task> ...` with the hub collection holding only the TLS tasks."""
    hub = Collection("hub")
    tasks.register(hub)
    try:
        Program(namespace=Collection(hub), version="test").run(["invoke", *argv], exit=True)
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0
