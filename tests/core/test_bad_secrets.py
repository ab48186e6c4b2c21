"""A refused secret is named with its rule, never shown: not the value, not a prefix.

issue 15: `secrets.grafana_admin_password: String should have at least 16 characters
(got 'Tr0ub4dor&3xyzQ')`. Every secret key, every way to give it (the secrets file,
JHUB_SECRET_* variables) and every way to get it wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import TaskRun
from tests.core.corpus import (
    assert_refused,
    fresh_secrets,
    ready_config,
    write_config,
    write_secrets,
)

Run = Callable[..., TaskRun]
KEYS = [
    "proxy_secret_token",
    "metrics_token",
    "health_check_token",
    "grafana_admin_password",
    "oauth_client_secret",
    "alert_smtp_password",
    "alert_slack_webhook_url",
    "alert_webhook_url",
]
# Values each rule refuses; every one looks like a real secret so that a leak shows.
WRONG: list[tuple[str, Any]] = [
    ("proxy_secret_token", "Tr0ub4dor&3xyzQ" * 4 + "abcd"),  # 64 characters, not hex
    ("proxy_secret_token", "0123456789abcdef" * 3 + "0123456789abcde"),  # 63 hex characters
    ("metrics_token", "Tr0ub4dor&3xyzQ-short"),
    ("health_check_token", "Tr0ub4dor&3xyzQ-short"),
    ("grafana_admin_password", "Tr0ub4dor&3xyzQ"),
    ("grafana_admin_password", 123456789012345678),
    ("metrics_token", ["Tr0ub4dor&3xyzQ-in-a-list-0123456789"]),
    ("oauth_client_secret", {"nested": "Tr0ub4dor&3xyzQ-nested-0123"}),
    ("health_check_token", float("inf")),
    ("alert_smtp_password", ["Tr0ub4dor&3xyzQ-smtp-in-a-list"]),
    ("alert_slack_webhook_url", "hooks.slack.invalid/services/Tr0ub4dor&3xyzQ"),
    ("alert_webhook_url", "ftp://alerts.invalid/Tr0ub4dor&3xyzQ-hook"),
]


def ids(case: tuple[str, Any]) -> str:
    return f"{case[0]}-{type(case[1]).__name__}"


def fragments(value: Any) -> list[str]:
    """The value's text and every 6-character piece of it: not even a prefix may show."""
    texts = [str(v) for v in (value.values() if isinstance(value, dict) else [value])]
    if isinstance(value, list):
        texts = [str(v) for v in value]
    return [t[i : i + 6] for t in texts for i in range(0, max(len(t) - 5, 1))] + texts


def environment(config_dir: Path, secrets: dict[str, Any]) -> None:
    write_config(config_dir, "dev", ready_config())
    write_secrets(config_dir, "dev", secrets)


@pytest.mark.parametrize("case", WRONG, ids=[ids(c) for c in WRONG])
def test_a_refused_secret_in_the_file_is_never_shown(
    config_dir: Path, run_task: Run, socket_disabled: None, case: tuple[str, Any]
) -> None:
    key, value = case
    environment(config_dir, {**fresh_secrets(), key: value})
    result = run_task("config.check", "--env", "dev")
    assert_refused(result, f"secrets.{key}")
    shown = result.out + result.err
    assert [f for f in fragments(value) if f in shown and f != "inf"] == [], shown


@pytest.mark.parametrize("case", [c for c in WRONG if isinstance(c[1], str)], ids=ids)
def test_a_refused_secret_from_the_environment_is_never_shown(
    config_dir: Path,
    run_task: Run,
    socket_disabled: None,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[str, Any],
) -> None:
    key, value = case
    environment(config_dir, fresh_secrets())
    variable = f"JHUB_SECRET_{key.upper()}"
    monkeypatch.setenv(variable, value)
    result = run_task("config.check", "--env", "dev")
    assert_refused(result, f"secrets.{key} (set by {variable})")
    assert [f for f in fragments(value) if f in result.out + result.err] == []


@pytest.mark.parametrize("value", [5, None, ["Tr0ub4dor&3xyzQ-in-a-list"], "Tr0ub4dor"])
def test_a_refused_admin_password_is_never_shown(
    config_dir: Path, run_task: Run, socket_disabled: None, value: Any
) -> None:
    environment(config_dir, {**fresh_secrets(), "native_admin_passwords": {"hubadmin": value}})
    result = run_task("config.check", "--env", "dev")
    if value == "Tr0ub4dor":
        # Any text is a password here; nothing to refuse, nothing to show either.
        assert "Tr0ub4dor" not in result.out + result.err
        return
    assert_refused(result, "secrets.native_admin_passwords.hubadmin")
    assert [f for f in fragments(value) if f in result.out + result.err] == []


def test_unknown_secret_variables_are_named(
    config_dir: Path, run_task: Run, socket_disabled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment(config_dir, fresh_secrets())
    monkeypatch.setenv("JHUB_SECRET_GRAFANA_PASWORD", "Tr0ub4dor&3xyzQ-typo-0123")
    monkeypatch.setenv("JHUB_SECRET_", "Tr0ub4dor&3xyzQ-empty-0123")
    result = run_task("config.check", "--env", "dev")
    assert_refused(
        result,
        "secrets.grafana_pasword (set by JHUB_SECRET_GRAFANA_PASWORD): unknown key",
        "JHUB_SECRET_: names no secret",
    )
    assert "Tr0ub4dor" not in result.err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"grafana_admin_password: Tr0ub4dor&3xyzQ-\xff-broken\n", "not UTF-8"),
        (b"grafana_admin_password: [Tr0ub4dor&3xyzQ-unclosed\n", "not valid YAML"),
        (b"grafana_admin_password: 'Tr0ub4dor&3xyzQ-\x07'\n", "U+0007"),
        (b"- Tr0ub4dor&3xyzQ-in-a-list\n", "must be a mapping"),
        (
            b"grafana_admin_password: Tr0ub4dor&3xyzQ-first-0\n"
            b"grafana_admin_password: Tr0ub4dor&3xyzQ-again-0\n",
            "key 'grafana_admin_password' is given twice (lines 1 and 2)",
        ),
    ],
)
def test_a_broken_secrets_file_is_named_without_its_content(
    config_dir: Path, run_task: Run, socket_disabled: None, content: bytes, expected: str
) -> None:
    write_config(config_dir, "dev", ready_config())
    path = config_dir / "dev.secrets.yaml"
    path.write_bytes(content)
    path.chmod(0o600)
    result = run_task("config.check", "--env", "dev")
    assert_refused(result, "dev.secrets.yaml", expected)
    assert "Tr0ub4dor" not in result.out + result.err


def test_a_directory_as_the_secrets_file_is_named(
    config_dir: Path, run_task: Run, socket_disabled: None
) -> None:
    write_config(config_dir, "dev", ready_config())
    (config_dir / "dev.secrets.yaml").mkdir(mode=0o700)
    assert_refused(run_task("config.check", "--env", "dev"), "dev.secrets.yaml", "directory")


def test_a_secret_put_in_the_config_file_is_not_echoed(
    config_dir: Path, run_task: Run, socket_disabled: None
) -> None:
    config = ready_config()
    config["hub"]["auth"]["oauth"]["client_secret"] = "Tr0ub4dor&3xyzQ-in-config"
    config["monitoring"]["grafana_admin_password"] = 1234567890123
    write_config(config_dir, "dev", config)
    write_secrets(config_dir, "dev", fresh_secrets())
    result = run_task("config.check", "--env", "dev")
    assert_refused(result, "hub.auth.oauth.client_secret: unknown key")
    assert "Tr0ub4dor" not in result.err and "1234567890123" not in result.err


def test_secret_like_config_keys_never_echo_their_value(
    config_dir: Path, run_task: Run, socket_disabled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(config_dir, "dev", ready_config())
    write_secrets(config_dir, "dev", fresh_secrets())
    monkeypatch.setenv("JHUB__HUB__HTTPS__SECRET_NAME", "Tr0ub4dor&3xyzQ_Not_A_Name")
    result = run_task("config.check", "--env", "dev")
    assert_refused(result, "hub.https.secret_name (set by JHUB__HUB__HTTPS__SECRET_NAME)")
    assert "Tr0ub4dor" not in result.err


def test_secrets_rejected_by_validation_are_still_redacted_later(
    config_dir: Path, run_task: Run, socket_disabled: None
) -> None:
    """A value refused above is registered anyway: if anything prints it later it is hidden."""
    from scripts.core.redaction import redact

    bad = "Tr0ub4dor&3xyzQ"
    environment(config_dir, {**fresh_secrets(), "grafana_admin_password": bad})
    assert run_task("config.check", "--env", "dev").code == 2
    assert bad not in redact(f"password={bad}")


def test_the_example_secret_keys_are_all_covered() -> None:
    from scripts.core.settings import Secrets

    assert set(Secrets.model_fields) == {*KEYS, "native_admin_passwords"}
    assert {key for key, _ in WRONG} | {"native_admin_passwords"} == set(Secrets.model_fields)
    yaml.safe_dump(fresh_secrets())
