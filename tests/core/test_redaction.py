"""One process-wide redaction: known values in every form, and any Secret's data."""

from __future__ import annotations

import base64
import json
import logging
import secrets
from pathlib import Path

import pytest
import yaml

from scripts.core import redaction
from scripts.core.console import Console
from scripts.core.redaction import REDACTED, redact, register


def fresh() -> str:
    value = secrets.token_urlsafe(24)
    register([value])
    return value


def test_a_known_value_is_hidden_in_every_encoding() -> None:
    value = fresh()
    raw = value.encode()
    for text in (
        value,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        json.dumps({"password": value}),
        f"https://hub/?token={value}",
    ):
        assert value not in redact(text) and REDACTED in redact(text), text


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_a_value_inside_a_longer_base64_text_is_hidden(offset: int) -> None:
    value = fresh()
    blob = base64.b64encode(b"x" * offset + f"password: {value}\n".encode() + b"tail").decode()
    shown = redact(blob)
    assert REDACTED in shown
    decoded_parts = shown.split(REDACTED)
    assert all(value not in part for part in decoded_parts)


def test_a_value_registered_again_under_its_source_replaces_the_old_one() -> None:
    first, second = secrets.token_hex(16), secrets.token_hex(16)
    register([first], source="environment:replaced")
    register([second], source="environment:replaced")
    assert redact(first) == first
    assert redact(second) == REDACTED


def test_short_values_are_not_secrets() -> None:
    register(["abc"])
    assert redact("abc") == "abc"


SECRET_JSON = json.dumps(
    {
        "kind": "Secret",
        "apiVersion": "v1",
        "type": "kubernetes.io/tls",
        "metadata": {"name": "hub-tls"},
        "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5LW1hdGVyaWFs"},
    }
)


@pytest.mark.parametrize(
    "text",
    [
        f"response body: {SECRET_JSON}",
        f"response body: b'{SECRET_JSON}'",
        # a list answer names the kind once, its items not at all
        json.dumps({"kind": "SecretList", "items": [{"data": {"tls.key": "a2V5LW1hdGVyaWFs"}}]}),
        # kubectl's last-applied annotation: the Secret again, JSON inside a JSON string
        json.dumps({"kind": "Secret", "metadata": {"annotations": {"last": SECRET_JSON}}}),
        # Python's repr of the client's model
        repr({"kind": "Secret", "data": {"tls.key": "a2V5LW1hdGVyaWFs"}}),
        # YAML, as helm and kubectl print it
        "apiVersion: v1\nkind: Secret\ndata:\n  tls.key: a2V5LW1hdGVyaWFs\nmetadata:\n  name: x\n",
        # stringData needs no kind: only Secrets have it
        json.dumps({"stringData": {"password": "a2V5LW1hdGVyaWFs"}}),
        "watch event: " + json.dumps({"type": "ADDED", "object": json.loads(SECRET_JSON)}),
    ],
)
def test_secret_data_is_removed_wherever_it_is_printed(text: str) -> None:
    shown = redact(text)
    assert "a2V5LW1hdGVyaWFs" not in shown, shown
    assert REDACTED in shown


def test_config_map_data_is_kept() -> None:
    text = json.dumps({"kind": "ConfigMap", "data": {"dashboard.json": "{}"}})
    assert redact(text) == text


def test_private_key_blocks_are_removed() -> None:
    text = "key:\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI...\n-----END EC PRIVATE KEY-----\n"
    assert "MHcCAQEEI" not in redact(text)


def test_every_log_record_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    value = fresh()
    caplog.set_level(logging.DEBUG)
    logger = logging.getLogger("some.library")
    logger.debug("sent %s", value)
    logger.warning("body: %s", SECRET_JSON)
    try:
        raise RuntimeError(f"rejected {value}")
    except RuntimeError:
        logger.exception("failed")
    assert value not in caplog.text
    assert "a2V5LW1hdGVyaWFs" not in caplog.text
    for record in caplog.records:
        # Handlers that read msg and args themselves see no secret either.
        assert value not in str(record.msg) and not record.args


def test_loading_an_environment_redacts_every_console(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A task that builds its own Console (or prints a table straight to the stream)
    without registering anything still shows no secret."""
    from rich.table import Table

    from scripts.core import loading

    config = yaml.safe_load((config_dir / "example.yaml").read_text())
    (config_dir / "dev.yaml").write_text(yaml.safe_dump(config))
    value = secrets.token_urlsafe(24)
    values = {
        "proxy_secret_token": secrets.token_hex(32),
        "metrics_token": secrets.token_hex(32),
        "health_check_token": secrets.token_hex(32),
        "grafana_admin_password": value,
        "oauth_client_secret": "",
    }
    path = config_dir / "dev.secrets.yaml"
    path.write_text(yaml.safe_dump(values))
    path.chmod(0o600)
    loading.load("dev", require_secrets=False)
    ui = Console()
    ui.print(f"password {value}")
    table = Table("key", "value")
    table.add_row("password", value)
    ui.stream.print(table)
    ui.errors.print(base64.b64encode(value.encode()).decode())
    captured = capsys.readouterr()
    assert value not in captured.out + captured.err
    assert base64.b64encode(value.encode()).decode() not in captured.err
    assert captured.out.count(REDACTED) == 2


def test_install_is_idempotent() -> None:
    factory = logging.getLogRecordFactory()
    redaction.install()
    assert logging.getLogRecordFactory() is factory
