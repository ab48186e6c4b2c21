"""Every other file the tool reads: kubeconfig, certificate and key, Dockerfile, clouds.yaml,
the certificate backup. A directory, bytes that are not UTF-8 or broken YAML is one
line naming the file (or the option that named it), exit 2, and never its content.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scripts.core.errors import BadInput
from tests.conftest import TaskRun
from tests.core.corpus import (
    assert_refused,
    certificate_and_key,
    fresh_secrets,
    ready_config,
    write_config,
    write_secrets,
)

Run = Callable[..., TaskRun]

BROKEN = {
    "directory": None,
    "not utf-8": b"apiVersion: v1\nclusters: [\xff\xfe]\n",
    "broken yaml": b"apiVersion: v1\nclusters: [unclosed-private-value\n",
    "repeated key": b"clusters: []\nclusters: []\n",
    "a list": b"- a\n- b\n",
}
EXPECTED = {
    "directory": "directory",
    "not utf-8": "not UTF-8",
    "broken yaml": "not valid YAML",
    "repeated key": "given twice (lines 1 and 2)",
    "a list": "is not a kubeconfig",
}


def make(path: Path, case: str) -> Path:
    content = BROKEN[case]
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("case", sorted(BROKEN))
@pytest.mark.parametrize("task", ["cluster.check", "gpu.status", "hub.status"])
def test_a_broken_kubeconfig_is_named(
    config_dir: Path, run_task: Run, socket_disabled: None, case: str, task: str
) -> None:
    kubeconfig = make(config_dir / "broken.kubeconfig", case)
    config = ready_config()
    config["cluster"] = {"driver": "existing", "name": "mine", "kubeconfig": str(kubeconfig)}
    config["hub"]["floating_ip"] = None
    config["cluster"]["gpu"] = {"enabled": False}
    write_config(config_dir, "dev", config)
    write_secrets(config_dir, "dev", fresh_secrets())
    result = run_task(task, "--env", "dev")
    assert_refused(result, str(kubeconfig), EXPECTED[case])
    assert "private-value" not in result.err


@pytest.mark.parametrize("which", ["--cert", "--key"])
@pytest.mark.parametrize("case", ["directory", "not utf-8", "missing"])
def test_a_broken_certificate_or_key_file_is_named(  # noqa: PLR0917 - fixtures and parameters
    config_dir: Path, run_task: Run, socket_disabled: None, tmp_path: Path, which: str, case: str
) -> None:
    config = ready_config()
    config["hub"]["https"] = {"mode": "secret", "secret_name": "hub-tls"}
    write_config(config_dir, "dev", config)
    files = {"--cert": tmp_path / "cert.pem", "--key": tmp_path / "key.pem"}
    cert_pem, key_pem = certificate_and_key(config["hub"]["domain"])
    files["--cert"].write_bytes(cert_pem)
    files["--key"].write_bytes(key_pem)
    target = files[which]
    target.unlink()
    if case == "directory":
        target.mkdir()
    elif case == "not utf-8":
        target.write_bytes(b"-----BEGIN PRIVATE KEY-----\n\xff\xfe\xfd\n")
    result = run_task(
        "hub.tls-secret",
        "--cert",
        str(files["--cert"]),
        "--key",
        str(files["--key"]),
        "--env",
        "dev",
    )
    assert_refused(result, f"option {which}")


@pytest.mark.parametrize("case", ["directory", "not utf-8"])
def test_a_broken_dockerfile_is_named(
    config_dir: Path, run_task: Run, socket_disabled: None, tmp_path: Path, case: str
) -> None:
    write_config(config_dir, "dev", ready_config())
    context = tmp_path / "context"
    context.mkdir()
    if case == "directory":
        (context / "Dockerfile").mkdir()
    else:
        (context / "Dockerfile").write_bytes(b"FROM fedora\nARG DRIVER_VERSION\xff\n")
    result = run_task("gpu.build-driver", "--env", "dev", "--context", str(context), "--dry-run")
    assert_refused(result, "option --context")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "directory"),
        (b"kind: Secret\ndata: {tls.key: \xff}\n", "not UTF-8"),
        (b"kind: Secret\ndata: [unclosed-private-key\n", "not valid YAML"),
        (b"kind: ConfigMap\ndata: {}\n", "not a certificate backup"),
        (b"- a\n", "not a certificate backup"),
    ],
)
def test_a_broken_certificate_backup_is_named(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    from scripts.hub.tls.backup import read_backup

    path = tmp_path / "dev.tls-backup.yaml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(BadInput) as refused:
        read_backup(path)
    text = str(refused.value)
    assert str(path) in text and expected in text
    assert "private-key" not in text and "\n" not in text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"clouds:\n  mine:\n    auth: {password: [hunter2-private-0123\n", "not valid YAML"),
        (b"clouds:\n  mine:\n    auth: {password: \xff}\n", "not UTF-8"),
        (b"- not a mapping\n", "is not a mapping"),
    ],
)
def test_a_broken_clouds_yaml_is_named_without_its_passwords(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    from scripts.doctor import clouds_yaml_entry

    path = tmp_path / "clouds.yaml"
    path.write_bytes(content)
    check = clouds_yaml_entry("mine", places=(path,))
    assert not check.ok
    assert expected in check.detail and "\n" not in check.detail
    assert "hunter2" not in check.detail
