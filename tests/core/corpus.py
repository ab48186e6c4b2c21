"""Helpers of the bad-input corpus: configs to break, and what a refusal must look like.

Every refusal is exit 2, every stderr line one error ("error: key: message", or an
indented continuation), no traceback, no line longer than a screen, and the key or
option named. The cases are generated from the example config and the task
namespace, so a new key or option joins the corpus without anyone listing it.
"""

from __future__ import annotations

import copy
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT, TaskRun

EXAMPLE: dict[str, Any] = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
LONGEST_LINE = 500
# Maps whose keys are the user's own (labels): any key is allowed there.
FREE_FORM = ("labels", "extra_labels", "native_admin_passwords")


def ready_config() -> dict[str, Any]:
    """The example with its documentation-only values replaced by real-looking ones,
    so a task gets past the placeholder refusal (core.placeholders) to what is tested."""
    config = copy.deepcopy(EXAMPLE)
    hub = config["hub"]
    hub["domain"] = "jhub.research-computing.ac.uk"
    hub["https"]["contact_email"] = "ops@research-computing.ac.uk"
    hub["floating_ip"] = "10.20.30.40"
    hub["auth"]["oauth"]["client_id"] = "jhub-research-computing"
    for profile in hub["profiles"]:
        if "image" in profile and "example.org" in profile["image"]:
            profile["image"] = "registry.research-computing.ac.uk/jupyter/vdi:2025-11"
    config["gpu"]["driver"]["registry"] = "registry.research-computing.ac.uk/nvidia"
    return config


def write_config(folder: Path, name: str, config: dict[str, Any]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def fresh_secrets() -> dict[str, Any]:
    return {
        "proxy_secret_token": secrets.token_hex(32),
        "metrics_token": secrets.token_hex(32),
        "health_check_token": secrets.token_hex(32),
        "grafana_admin_password": secrets.token_urlsafe(24),
        "oauth_client_secret": secrets.token_urlsafe(24),
        "native_admin_passwords": {},
    }


def write_secrets(folder: Path, name: str, values: dict[str, Any]) -> Path:
    path = folder / f"{name}.secrets.yaml"
    path.write_text(yaml.safe_dump(values, allow_unicode=True), encoding="utf-8")
    os.chmod(path, 0o600)
    return path


def assert_one_line_errors(result: TaskRun) -> None:
    assert "Traceback" not in result.err, result.err
    for line in result.err.strip().splitlines():
        assert line.startswith(("error:", "  ", "warning:")), f"not a one-line error: {line!r}"
        assert len(line) <= LONGEST_LINE, f"{len(line)} characters: {line[:120]!r}"


def assert_refused(result: TaskRun, *expected: str) -> None:
    assert result.code == 2, f"exit {result.code}; stderr: {result.err[-2000:]}"
    for text in expected:
        assert text in result.err, f"{text!r} not named in: {result.err[-2000:]}"
    assert_one_line_errors(result)


def leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every scalar of a parsed config with its path (keys and list indexes)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaves(value, (*path, index))
    else:
        yield path, node


def mappings(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every mapping of a config that is a model (its keys are ours, not the user's)."""
    if isinstance(node, dict):
        if not path or path[-1] not in FREE_FORM:
            yield path
            for key, value in node.items():
                yield from mappings(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from mappings(value, (*path, index))


def dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def changed(config: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(config)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


def in_free_form(path: tuple[Any, ...]) -> bool:
    return any(part in FREE_FORM for part in path)


def certificate_and_key(name: str) -> tuple[bytes, bytes]:
    """A self-signed certificate for `name` and its unencrypted key, as PEM."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem
