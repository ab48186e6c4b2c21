"""What certificate the hub has: from the cluster's secret, or from the live endpoint.

With Let's Encrypt, z2jh's autohttps pod keeps traefik's ACME store (acme.json,
its certificates base64-encoded PEM) in the secret proxy-public-tls-acme; with
https.mode 'secret' the certificate is the tls.crt of the named secret. Only
certificates are parsed here; the private keys next to them are never decoded.
What the report shows and when it fails: docs/tls.md, "Certificate status".
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...core.console import Console
from ...core.errors import BadInput, OperationFailed, Problem
from ...core.loading import Environment
from .ledger import LETSENCRYPT_LIMIT, REFUSE_AT, Ledger, utc_now

if TYPE_CHECKING:
    from cryptography import x509
    from kubernetes.client import ApiClient

ACME_SECRET = "proxy-public-tls-acme"
ACME_KEY = "acme.json"
# traefik renews 30 days before expiry; below this the operator should look.
RENEWAL_DAYS = 30
# Markers Let's Encrypt puts in its test hierarchy's issuer names.
STAGING_MARKERS = ("(STAGING)", "Fake LE")
TRAEFIK_DEFAULT = "TRAEFIK DEFAULT CERT"
UNINSTALL_REMINDER = (
    "`helm uninstall` deletes this secret, and the next install orders a new certificate "
    "(5 per week); use `invoke hub.uninstall`, which keeps a backup and restores it"
)


@dataclass(frozen=True)
class Certificate:
    subject: str
    issuer: str
    names: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    fingerprint: str

    @property
    def staging(self) -> bool:
        return any(marker in self.issuer for marker in STAGING_MARKERS)

    @property
    def traefik_default(self) -> bool:
        return TRAEFIK_DEFAULT in self.subject

    def covers(self, domain: str) -> bool:
        domain = domain.lower().rstrip(".")
        for name in (n.lower() for n in self.names):
            if name == domain:
                return True
            if name.startswith("*.") and domain.partition(".")[2] == name[2:]:
                return True
        return False

    def days_left(self, now: dt.datetime) -> int:
        return (self.not_after - now).days

    def expired(self, now: dt.datetime) -> bool:
        return now >= self.not_after

    def describe(self, now: dt.datetime) -> str:
        kind = " (staging: browsers do not trust it)" if self.staging else ""
        return (
            f"{', '.join(self.names) or self.subject} from {self.issuer}{kind}, "
            f"valid until {self.not_after:%Y-%m-%d %H:%M} UTC ({self.days_left(now)} days left)"
        )


def _parse(cert: x509.Certificate) -> Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = tuple(extension.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    return Certificate(
        subject=cert.subject.rfc4514_string(),
        issuer=_issuer_name(cert),
        names=names,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
    )


def _issuer_name(cert: x509.Certificate) -> str:
    """'Let's Encrypt R11' rather than the full distinguished name."""
    from cryptography.x509.oid import NameOID

    def first(oid: x509.ObjectIdentifier) -> str:
        found = cert.issuer.get_attributes_for_oid(oid)
        value = found[0].value if found else ""
        return value.decode() if isinstance(value, bytes) else value

    organisation, common = first(NameOID.ORGANIZATION_NAME), first(NameOID.COMMON_NAME)
    if organisation and common and not common.startswith(organisation):
        return f"{organisation} {common}"
    return common or organisation or cert.issuer.rfc4514_string()


def from_pem(data: bytes) -> Certificate:
    """The first (leaf) certificate of a PEM bundle."""
    from cryptography import x509

    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError as error:
        raise OperationFailed(f"not a PEM certificate: {error}") from None
    return _parse(chain[0])


def from_der(data: bytes) -> Certificate:
    from cryptography import x509

    return _parse(x509.load_der_x509_certificate(data))


def from_acme_json(text: str) -> list[Certificate]:
    """Every certificate in traefik's ACME store, whatever the resolver is called."""
    try:
        store = json.loads(text or "{}")
    except ValueError as error:
        raise OperationFailed(
            f"{ACME_SECRET} holds no valid acme.json ({error})",
            f"delete the secret's {ACME_KEY} key and retry with `invoke hub.ssl-retry`",
        ) from None
    found: list[Certificate] = []
    for resolver in (store or {}).values():
        if not isinstance(resolver, dict):
            continue
        for entry in resolver.get("Certificates") or []:
            try:
                pem = base64.b64decode(entry["certificate"], validate=True)
            except (KeyError, TypeError, binascii.Error):
                continue
            found.append(from_pem(pem))
    return found


def best_for(domain: str, certificates: list[Certificate]) -> Certificate | None:
    """The certificate that covers the domain and lasts longest."""
    covering = [c for c in certificates if c.covers(domain)]
    return max(covering, key=lambda c: c.not_after) if covering else None


# ----------------------------------------------------------------------- reading the cluster


@dataclass(frozen=True)
class Stored:
    """What the cluster holds: the raw secret data (base64 values) and its certificates."""

    secret: str
    data: dict[str, str]
    certificates: list[Certificate]


def read_acme_store(api: ApiClient, namespace: str) -> Stored | None:
    from ...core import kube

    manifest = kube.read_secret_manifest(api, namespace, ACME_SECRET)
    if manifest is None:
        return None
    data: dict[str, str] = dict(manifest.get("data") or {})
    text = base64.b64decode(data[ACME_KEY]).decode() if ACME_KEY in data else ""
    return Stored(ACME_SECRET, data, from_acme_json(text))


def read_tls_secret(api: ApiClient, namespace: str, name: str) -> Stored | None:
    from ...core import kube

    manifest = kube.read_secret_manifest(api, namespace, name)
    if manifest is None:
        return None
    data: dict[str, str] = dict(manifest.get("data") or {})
    if "tls.crt" not in data:
        return Stored(name, data, [])
    return Stored(name, data, [from_pem(base64.b64decode(data["tls.crt"]))])


# ----------------------------------------------------------------------- the task


@dataclass(frozen=True)
class StatusOptions:
    live: bool = False
    # Where the live endpoint is reached; the domain itself unless a test says otherwise.
    address: str | None = None
    https_port: int = 443


def run(
    environment: Environment,
    ui: Console,
    options: StatusOptions,
    api: ApiClient | None = None,
    now: dt.datetime | None = None,
) -> Certificate:
    """Report the hub's certificate; fail when there is none or it has expired."""
    hub = environment.settings.hub
    if hub.https.mode == "off" or not hub.domain:
        raise BadInput(Problem("hub.https.mode", "is 'off'; there is no certificate to report"))
    domain = hub.domain
    now = now or utc_now()

    certificate: Certificate | None = None
    source = ""
    if not options.live:
        if api is None:
            from ...core import kube

            api = kube.api_client(environment.kubeconfig)
        if hub.https.mode == "letsencrypt":
            stored = read_acme_store(api, hub.namespace)
        else:
            stored = read_tls_secret(api, hub.namespace, hub.https.secret_name or "")
        if stored is not None:
            certificate = best_for(domain, stored.certificates)
            source = f"secret {hub.namespace}/{stored.secret}"
            if certificate is None and stored.certificates:
                others = "; ".join(", ".join(c.names) for c in stored.certificates)
                ui.warn(f"{source} holds certificates only for: {others}")
    if certificate is None:
        from .checks import tls_handshake

        if not options.live:
            ui.print(f"No certificate for {domain} stored in the cluster; asking the endpoint.")
        shake = tls_handshake(domain, options.address, options.https_port)
        certificate = from_der(shake.der)
        source = f"live endpoint {options.address or domain}:{options.https_port}"
        if not shake.trusted:
            ui.warn(f"this machine does not trust the endpoint's certificate: {shake.trust_error}")

    ui.heading(f"Certificate for {domain}")
    ui.print(f"  source:     {source}")
    ui.print(f"  names:      {', '.join(certificate.names) or '(none)'}")
    ui.print(f"  issuer:     {certificate.issuer}")
    ui.print(f"  staging:    {'yes, browsers do not trust it' if certificate.staging else 'no'}")
    ui.print(f"  not after:  {certificate.not_after:%Y-%m-%d %H:%M} UTC")
    ui.print(f"  days left:  {certificate.days_left(now)}")
    if hub.https.mode == "letsencrypt":
        allowance = Ledger.for_environment(environment.name).allowance(domain, now)
        ui.print(
            f"  attempts:   {allowance.used} production order(s) by this tool in the last "
            f"7 days (Let's Encrypt allows {LETSENCRYPT_LIMIT}; hub.ssl-retry stops at "
            f"{REFUSE_AT})"
        )
        if allowance.next_free is not None:
            free = allowance.next_free
            ui.print(f"              the oldest stops counting {free:%Y-%m-%d %H:%M} UTC")
        ui.print(f"  reminder:   {UNINSTALL_REMINDER}")

    if certificate.traefik_default:
        raise OperationFailed(
            f"{domain} serves traefik's default certificate: no certificate was obtained",
            f"run `invoke hub.ssl-retry --env {environment.name}` "
            "(it checks DNS and port 80 first)",
        )
    if not certificate.covers(domain):
        raise OperationFailed(
            f"the certificate found ({', '.join(certificate.names)}) does not cover {domain}",
            f"run `invoke hub.ssl-retry --env {environment.name}`",
        )
    if certificate.expired(now):
        raise OperationFailed(
            f"the certificate for {domain} expired on {certificate.not_after:%Y-%m-%d}",
            f"run `invoke hub.ssl-retry --env {environment.name}`"
            if hub.https.mode == "letsencrypt"
            else f"install a new one with `invoke hub.tls-secret --env {environment.name}`",
        )
    if certificate.days_left(now) < RENEWAL_DAYS:
        renewal = (
            "traefik should have renewed it by now; look at its logs "
            "(kubectl logs deploy/autohttps -c traefik)"
            if hub.https.mode == "letsencrypt"
            else "replace it soon"
        )
        ui.warn(f"{certificate.days_left(now)} days left: {renewal}")
    return certificate


def stored_json(stored: Stored) -> dict[str, Any]:
    """The decoded acme.json of a stored ACME secret (empty when it has none)."""
    if ACME_KEY not in stored.data:
        return {}
    parsed = json.loads(base64.b64decode(stored.data[ACME_KEY]) or b"{}")
    return parsed if isinstance(parsed, dict) else {}
