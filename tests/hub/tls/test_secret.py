"""hub.tls-secret: the pair is checked before anything reaches the cluster (kmock)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scripts.hub.tls.secret import covers
from tests.hub.tls.helpers import invoke_hub, write_environment
from tests.support.fakekube import FakeKube

ENV = "own-cert"


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


Run = Callable[..., Ran]


@pytest.fixture
def run_task(capsys: pytest.CaptureFixture[str]) -> Run:
    """`invoke hub.tls-secret ...` in this process, with what it printed."""

    def run(*argv: str) -> Ran:
        capsys.readouterr()
        code = invoke_hub(*argv)
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run


def key_pair() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def certificate(
    key: ec.EllipticCurvePrivateKey, names: list[str], *, days: int = 365, started: int = -1
) -> bytes:
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    built = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=started))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    return built.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


@pytest.fixture
def files(tmp_path: Path) -> Callable[..., tuple[str, str]]:
    def write(cert: bytes, key: bytes) -> tuple[str, str]:
        cert_path, key_path = tmp_path / "hub.crt", tmp_path / "hub.key"
        cert_path.write_bytes(cert)
        key_path.write_bytes(key)
        return str(cert_path), str(key_path)

    return write


@pytest.fixture
def cluster(config_dir: Path, kube: FakeKube) -> FakeKube:
    write_environment(
        config_dir,
        ENV,
        {
            "cluster.kubeconfig": str(kube.kubeconfig_path),
            "hub.https.mode": "secret",
            "hub.https.secret_name": "hub-tls",
        },
    )
    return kube


def test_a_good_pair_is_stored_once(
    run_task: Run, cluster: FakeKube, files: Callable[..., tuple[str, str]]
) -> None:
    key = key_pair()
    cert_pem = certificate(key, ["jupyter.example.org"], days=90)
    cert, private = files(cert_pem, key_pem(key))
    result = run_task("hub.tls-secret", "--cert", cert, "--key", private, "--env", ENV)
    assert result.code == 0, result.err
    assert "certificate for jupyter.example.org from CN=Test CA" in result.out
    assert "(89 days left)" in result.out or "(90 days left)" in result.out
    secret = cluster.get("secrets", "hub-tls", "jhub")
    assert secret is not None
    assert secret["type"] == "kubernetes.io/tls"
    assert base64.b64decode(secret["data"]["tls.crt"]) == cert_pem
    assert base64.b64decode(secret["data"]["tls.key"]) == key_pem_bytes(private)
    assert "PRIVATE KEY" not in result.out + result.err

    cluster.clear_requests()
    again = run_task("hub.tls-secret", "--cert", cert, "--key", private, "--env", ENV)
    assert again.code == 0, again.err
    assert "already holds this certificate and key" in again.out
    assert cluster.mutating_requests() == []


def key_pem_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


def test_a_renewed_certificate_replaces_the_old_one(
    run_task: Run, cluster: FakeKube, files: Callable[..., tuple[str, str]]
) -> None:
    key = key_pair()
    first = files(certificate(key, ["jupyter.example.org"], days=20), key_pem(key))
    result = run_task("hub.tls-secret", "--cert", first[0], "--key", first[1], "--env", ENV)
    assert result.code == 0, result.err
    assert "plan the renewal now" in result.err

    renewed_key = key_pair()
    renewed = certificate(renewed_key, ["*.example.org"], days=365)
    second = files(renewed, key_pem(renewed_key))
    result = run_task("hub.tls-secret", "--cert", second[0], "--key", second[1], "--env", ENV)
    assert result.code == 0, result.err
    assert "rollout restart deploy/proxy" in result.out
    stored = cluster.get("secrets", "hub-tls", "jhub")
    assert stored is not None
    assert base64.b64decode(stored["data"]["tls.crt"]) == renewed


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("other key", "option --key: "),
        (
            "other domain",
            "option --cert: names www.example.com, not hub.domain jupyter.example.org",
        ),
        ("expired", "option --cert: expired on"),
        ("encrypted key", "is encrypted"),
        ("not a certificate", "holds no PEM certificate"),
    ],
)
def test_a_bad_pair_is_refused_before_any_request(
    run_task: Run,
    cluster: FakeKube,
    files: Callable[..., tuple[str, str]],
    case: str,
    message: str,
) -> None:
    key = key_pair()
    cert_pem = certificate(key, ["jupyter.example.org"])
    key_bytes = key_pem(key)
    if case == "other key":
        key_bytes = key_pem(key_pair())
    elif case == "other domain":
        cert_pem = certificate(key, ["www.example.com"])
    elif case == "expired":
        cert_pem = certificate(key, ["jupyter.example.org"], days=-2, started=-30)
    elif case == "encrypted key":
        key_bytes = key_pem(key, password=b"correct horse")
    elif case == "not a certificate":
        cert_pem = b"hello\n"
    cert, private = files(cert_pem, key_bytes)
    cluster.clear_requests()
    result = run_task("hub.tls-secret", "--cert", cert, "--key", private, "--env", ENV)
    assert result.code == 2
    assert message in result.err
    assert cluster.requests == []


def test_options_and_mode_are_checked_first(
    run_task: Run, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The example's documentation values are refused first otherwise (core.placeholders).
    monkeypatch.setenv("JHUB_ALLOW_DOCUMENTATION_VALUES", "1")
    missing = run_task("hub.tls-secret", "--env", ENV)
    assert missing.code == 2
    assert "option --cert: required" in missing.err and "option --key: required" in missing.err
    write_environment(config_dir, "le")
    wrong_mode = run_task("hub.tls-secret", "--cert", "a", "--key", "b", "--env", "le")
    assert wrong_mode.code == 2
    assert "hub.https.mode" in wrong_mode.err


def test_name_matching() -> None:
    assert covers("jupyter.example.org", "JUPYTER.example.org")
    assert covers("*.example.org", "jupyter.example.org")
    assert not covers("*.example.org", "a.jupyter.example.org")
    assert not covers("*.example.org", "example.org")
    assert not covers("example.org", "jupyter.example.org")
