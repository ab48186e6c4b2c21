"""hub.tls-secret: install a certificate you bring (https.mode 'secret').

z2jh reads it from a kubernetes.io/tls secret named by hub.https.secret_name.
Before anything is written the pair is checked: the key belongs to the
certificate, the certificate names the hub's domain, and it is not expired; the
days left are shown because nobody renews this one automatically (docs/hub.md,
"HTTPS with your own certificate").
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...core import kube, manifests
from ...core.changes import Changes
from ...core.console import Console
from ...core.errors import BadInput, Problem, bad_option
from ...core.loading import Environment

# Below this many days the operator is warned to plan the renewal.
RENEW_SOON_DAYS = 30


@dataclass(frozen=True)
class Checked:
    names: list[str]
    issuer: str
    not_after: dt.datetime
    days_left: int
    certificate_pem: bytes
    key_pem: bytes


def covers(pattern: str, domain: str) -> bool:
    """Certificate name matching: exact, or one leftmost label for '*.'."""
    pattern, domain = pattern.lower().rstrip("."), domain.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = domain.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == domain


def check_pair(
    cert_path: Path, key_path: Path, domain: str, now: dt.datetime | None = None
) -> Checked:
    """Everything wrong with the files, at once, as bad input naming the option."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    problems: list[Problem] = []
    cert_pem = _read(cert_path, "--cert", problems)
    key_pem = _read(key_path, "--key", problems)
    if cert_pem is None or key_pem is None:
        raise BadInput(problems)
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        chain = []
    if not chain:
        raise bad_option("--cert", f"{cert_path} holds no PEM certificate")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise bad_option(
            "--key", f"{key_path} is encrypted; write it decrypted (`openssl pkey -in ...`)"
        ) from None
    except ValueError:
        raise bad_option("--key", f"{key_path} holds no PEM private key") from None

    leaf = chain[0]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_key().public_bytes(
        serialization.Encoding.DER, public
    ) != key.public_key().public_bytes(serialization.Encoding.DER, public):
        problems.append(
            Problem("option --key", f"{key_path} is not the private key of {cert_path}")
        )
    names = _names(leaf)
    if not any(covers(name, domain) for name in names):
        problems.append(
            Problem(
                "option --cert",
                f"names {', '.join(names) or '(none)'}, not hub.domain {domain}",
            )
        )
    now = now or dt.datetime.now(dt.UTC)
    not_after = leaf.not_valid_after_utc
    days_left = (not_after - now).days
    if not_after <= now:
        problems.append(Problem("option --cert", f"expired on {not_after:%Y-%m-%d}"))
    elif leaf.not_valid_before_utc > now:
        problems.append(
            Problem("option --cert", f"not valid before {leaf.not_valid_before_utc:%Y-%m-%d}")
        )
    if problems:
        raise BadInput(problems)
    return Checked(names, leaf.issuer.rfc4514_string(), not_after, days_left, cert_pem, key_pem)


def _read(path: Path, option: str, problems: list[Problem]) -> bytes | None:
    try:
        return path.expanduser().read_bytes()
    except OSError as error:
        problems.append(Problem(f"option {option}", f"cannot read {path}: {error.strerror}"))
        return None


def _names(certificate: Any) -> list[str]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        alternative = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [str(n) for n in alternative.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    if not names:
        names = [
            str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        ]
    return names


def secret_manifest(name: str, namespace: str, checked: Checked) -> dict[str, Any]:
    manifest = manifests.secret(name, namespace, {})
    del manifest["stringData"]
    manifest["type"] = "kubernetes.io/tls"
    manifest["data"] = {
        "tls.crt": base64.b64encode(checked.certificate_pem).decode(),
        "tls.key": base64.b64encode(checked.key_pem).decode(),
    }
    return manifest


def run(
    environment: Environment, ui: Console, cert: Path, key: Path, *, dry_run: bool
) -> kube.Outcome:
    hub = environment.settings.hub
    if hub.https.mode != "secret" or not hub.https.secret_name or not hub.domain:
        raise BadInput(
            Problem(
                "hub.https.mode",
                f"hub.tls-secret is for mode 'secret' with secret_name and domain set "
                f"(this environment uses {hub.https.mode!r})",
            )
        )
    checked = check_pair(cert, key, hub.domain)
    ui.add_secrets([checked.key_pem.decode("ascii", errors="ignore").strip()])
    ui.print(
        f"certificate for {', '.join(checked.names)} from {checked.issuer}, valid until "
        f"{checked.not_after:%Y-%m-%d} ({checked.days_left} days left)"
    )
    if checked.days_left < RENEW_SOON_DAYS:
        ui.warn(f"only {checked.days_left} days left: plan the renewal now")
    changes = Changes(ui, dry_run=dry_run)
    api = kube.api_client(environment.kubeconfig)
    with ui.step(f"namespace {hub.namespace}") as step:
        if kube.ensure(api, manifests.namespace(hub.namespace), changes) == "unchanged":
            step.unchanged()
    manifest = secret_manifest(hub.https.secret_name, hub.namespace, checked)
    with ui.step(f"TLS secret {hub.namespace}/{hub.https.secret_name}") as step:
        outcome = kube.ensure(api, manifest, changes)
        if outcome == "unchanged":
            step.unchanged("already holds this certificate and key")
        else:
            step.done(outcome)
    if outcome == "updated" and not dry_run:
        ui.print(
            "The proxy reads the secret when it starts: `kubectl -n "
            f"{hub.namespace} rollout restart deploy/proxy` makes it serve the new certificate."
        )
    return outcome
