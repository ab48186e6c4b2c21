"""Alertmanager's configuration from monitoring.receivers, checked by the real amtool, and
`invoke monitoring.alert-test` through a real Alertmanager to local receivers.

Debian bookworm ships Alertmanager and amtool 0.25.0; webhook `url_file` arrived in
v0.26.0 (prometheus/alertmanager commit 41eb1213b), while the chart runs v0.34.0. Against
the older binary, and only then, the webhook's `url_file` is swapped for the `url` it
names (`for_local`); every other setting, the `*_file` ones included, is checked as
rendered.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.core.settings import Secrets, Settings
from scripts.monitoring import receivers
from tests.conftest import TaskRun
from tests.monitoring.conftest import ENV, EXAMPLE, MonitoringEnv, fresh_secrets, set_path
from tests.support.components import (
    AlertmanagerServer,
    ProgrammableHTTPServer,
    start_alertmanager,
)
from tests.support.fake_helm import FakeHelm
from tests.support.fakekube import FakeKube

Run = Callable[..., TaskRun]
EMAIL = {
    "to": ["ops@example.org", "oncall@example.org"],
    "sender": "alerts@example.org",
    "smarthost": "smtp.example.org:587",
    "username": "alerts@example.org",
}
SLACK_URL = "https://hooks.slack.test/services/T000/B000/secret-slack-token"
WEBHOOK_URL = "https://pager.example.test/hook?key=secret-webhook-key"
SMTP_PASSWORD = "smtp-password-not-for-output"


def settings(**changes: Any) -> Settings:
    config = copy.deepcopy(EXAMPLE)
    for dotted, value in changes.items():
        set_path(config, dotted, value)
    return Settings.model_validate(config)


def secrets(**changes: str) -> Secrets:
    return Secrets.model_validate({**fresh_secrets(), **changes})


ALL = {
    "monitoring.receivers.email": EMAIL,
    "monitoring.receivers.slack": {"channel": "#hub-alerts"},
    "monitoring.receivers.webhook": {},
}
ALL_SECRETS = {
    "alert_smtp_password": SMTP_PASSWORD,
    "alert_slack_webhook_url": SLACK_URL,
    "alert_webhook_url": WEBHOOK_URL,
}


def amtool_version(amtool: str) -> tuple[int, int]:
    out = subprocess.run(
        [amtool, "--version"], check=False, capture_output=True, text=True, timeout=30
    )
    match = re.search(r"version (\d+)\.(\d+)", out.stdout + out.stderr)
    assert match, out
    return int(match[1]), int(match[2])


def for_local(config: dict[str, Any], amtool: str, secret_dir: Path) -> dict[str, Any]:
    """The rendered config with its secret files in secret_dir (and, for an Alertmanager
    older than 0.26, the webhook URL read from its file into `url`)."""
    text = json.dumps(config).replace(receivers.SECRETS_DIR, str(secret_dir))
    local: dict[str, Any] = json.loads(text)
    if amtool_version(amtool) < (0, 26):
        for receiver in local["receivers"]:
            for hook in receiver.get("webhook_configs", []):
                hook["url"] = Path(hook.pop("url_file")).read_text()
    return local


def write_secret_files(directory: Path, chosen: Settings, values: Secrets) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for key, value in receivers.secret_files(chosen, values).items():
        (directory / key).write_text(value)
    return directory


def check_config(amtool: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [amtool, "check-config", str(path)], check=False, capture_output=True, text=True, timeout=60
    )


# ------------------------------------------------------------------ the configuration


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"monitoring.receivers.email": {**EMAIL, "username": ""}},
        ALL,
        {**ALL, "monitoring.receivers.chart_alerts": "all"},
        {**ALL, "monitoring.receivers.chart_alerts": "none"},
    ],
    ids=["no-receivers", "email-without-login", "all-three", "chart-all", "chart-none"],
)
def test_amtool_accepts_the_rendered_configuration(
    changes: dict[str, Any], amtool_bin: str, tmp_path: Path
) -> None:
    chosen = settings(**changes)
    values = secrets(**ALL_SECRETS)
    files = write_secret_files(tmp_path / "secrets", chosen, values)
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(for_local(receivers.config(chosen), amtool_bin, files)))
    result = check_config(amtool_bin, path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_amtool_refuses_a_broken_configuration(amtool_bin: str, tmp_path: Path) -> None:
    chosen = settings(**ALL)
    files = write_secret_files(tmp_path / "secrets", chosen, secrets(**ALL_SECRETS))
    config = for_local(receivers.config(chosen), amtool_bin, files)
    config["route"]["receiver"] = "nobody"
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    result = check_config(amtool_bin, path)
    assert result.returncode != 0
    assert "nobody" in result.stdout + result.stderr


def test_the_configuration_names_files_never_secrets() -> None:
    text = receivers.config_text(settings(**ALL))
    for secret in ALL_SECRETS.values():
        assert secret not in text
    directory = "/etc/alertmanager/secrets/alertmanager-jhub-receivers"
    assert f"auth_password_file: {directory}/smtp-password" in text
    assert f"api_url_file: {directory}/slack-webhook-url" in text
    assert f"url_file: {directory}/webhook-url" in text
    # Debian's 0.25 has no webhook url_file; the chart's Alertmanager (v0.34.0) has.
    assert "url: " not in text.replace("url_file: ", "").replace("api_url_file", "")


def test_routes_send_ours_and_the_charts_critical_to_the_operators() -> None:
    route = receivers.config(settings(**ALL))["route"]
    assert route["receiver"] == "null"
    assert [(r["receiver"], r["matchers"]) for r in route["routes"]] == [
        ("null", ['alertname=~"Watchdog|InfoInhibitor"']),
        ("operators", ['alertname="JhubAlertTest"']),
        ("operators", ['origin="jhub-openstack"']),
        ("operators", ['severity="critical"']),
    ]
    # Without a receiver everything stays in Alertmanager's UI.
    quiet = receivers.config(settings())
    assert [r["name"] for r in quiet["receivers"]] == ["null"]
    assert {r["receiver"] for r in quiet["route"]["routes"]} == {"null"}


def test_the_values_only_name_the_secrets() -> None:
    from scripts.core.templates import placeholder_secrets, render

    values = render("kube-prometheus-stack", settings(**ALL), placeholder_secrets()).values
    spec = values["alertmanager"]["alertmanagerSpec"]
    assert spec == {
        "useExistingSecret": True,
        "configSecret": "alertmanager-jhub-config",
        "secrets": ["alertmanager-jhub-receivers"],
    }
    assert spec["configSecret"] == receivers.CONFIG_SECRET
    assert spec["secrets"] == [receivers.RECEIVERS_SECRET]


# ------------------------------------------------------------------ monitoring.deploy


def test_deploy_writes_the_receivers_secret_and_the_config(
    run_task: Run,
    monitoring_env: MonitoringEnv,
    kube: FakeKube,
    config_dir: Path,
    fake_helm: FakeHelm,
) -> None:
    import base64

    monitoring_env(**ALL)
    secrets_path = config_dir / f"{ENV}.secrets.yaml"
    stored = yaml.safe_load(secrets_path.read_text())
    secrets_path.write_text(yaml.safe_dump({**stored, **ALL_SECRETS}))
    result = run_task("monitoring.deploy", "--env", ENV)
    assert result.code == 0, result.err
    held = kube.get("secrets", "alertmanager-jhub-receivers", "prometheus")
    assert held is not None
    assert {k: base64.b64decode(v).decode() for k, v in held["data"].items()} == {
        "smtp-password": SMTP_PASSWORD,
        "slack-webhook-url": SLACK_URL,
        "webhook-url": WEBHOOK_URL,
    }
    config = kube.get("secrets", "alertmanager-jhub-config", "prometheus")
    assert config is not None
    text = base64.b64decode(config["data"]["alertmanager.yaml"]).decode()
    assert "slack_configs" in text and "email_configs" in text
    for secret in ALL_SECRETS.values():
        assert secret not in text
        assert secret not in result.out + result.err
    assert "receivers: email, slack, webhook" in result.out


def test_a_receiver_without_its_secret_is_refused_before_any_call(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube
) -> None:
    monitoring_env(**{"monitoring.receivers.slack": {}})
    result = run_task("monitoring.deploy", "--env", ENV)
    assert result.code == 2
    assert "secrets.alert_slack_webhook_url: empty" in result.err
    assert kube.requests == []


def test_an_unknown_rule_name_is_refused_before_any_call(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube
) -> None:
    monitoring_env(**{"monitoring.alerts.disabled": ["JupyterHubDwn"]})
    result = run_task("monitoring.deploy", "--env", ENV)
    assert result.code == 2
    assert "monitoring.alerts.disabled: unknown rule JupyterHubDwn" in result.err
    assert kube.requests == []


# ------------------------------------------------------------------ alert-test, end to end


@pytest.fixture
def receivers_at(
    http_server_factory: Callable[..., ProgrammableHTTPServer],
) -> tuple[ProgrammableHTTPServer, ProgrammableHTTPServer]:
    """A Slack-compatible incoming webhook and a generic webhook, both on loopback."""
    slack = http_server_factory()
    slack.respond("/services/T000/B000/local", 200, body="ok")
    hook = http_server_factory()
    hook.respond("/alerts", 200, body="")
    return slack, hook


@pytest.fixture
def alertmanager(
    alertmanager_bin: str,
    amtool_bin: str,
    tmp_path: Path,
    receivers_at: tuple[ProgrammableHTTPServer, ProgrammableHTTPServer],
) -> Iterator[AlertmanagerServer]:
    slack, hook = receivers_at
    chosen = settings(
        **{"monitoring.receivers.slack": {}, "monitoring.receivers.webhook": {}},
    )
    values = secrets(
        alert_slack_webhook_url=f"{slack.url}/services/T000/B000/local",
        alert_webhook_url=f"{hook.url}/alerts",
    )
    files = write_secret_files(tmp_path / "secrets", chosen, values)
    config = yaml.safe_dump(for_local(receivers.config(chosen), amtool_bin, files))
    server = start_alertmanager(alertmanager_bin, tmp_path / "alertmanager", config)
    yield server
    server.process.stop()


def test_alert_test_reaches_both_receivers(
    run_task: Run,
    monitoring_env: MonitoringEnv,
    alertmanager: AlertmanagerServer,
    receivers_at: tuple[ProgrammableHTTPServer, ProgrammableHTTPServer],
) -> None:
    monitoring_env(**{"monitoring.receivers.slack": {}, "monitoring.receivers.webhook": {}})
    result = run_task("monitoring.alert-test", "--env", ENV, "--url", alertmanager.url)
    assert result.code == 0, result.out + result.err
    assert "accepted; routed to operators" in result.out
    assert "✓ slack: delivered" in result.out and "✓ webhook: delivered" in result.out
    slack, hook = receivers_at
    (posted,) = [r for r in hook.requests if r.method == "POST"]
    body = json.loads(posted.body)
    assert body["receiver"] == "operators"
    (alert,) = body["alerts"]
    assert alert["labels"]["alertname"] == "JhubAlertTest"
    assert alert["labels"]["origin"] == "jhub-openstack"
    assert (
        alert["annotations"]["summary"] == "Test alert from invoke monitoring.alert-test --env mon"
    )
    (message,) = [r for r in slack.requests if r.method == "POST"]
    assert "[FIRING" in json.loads(message.body)["attachments"][0]["title"]


def test_alert_test_says_which_receiver_refused(
    run_task: Run,
    monitoring_env: MonitoringEnv,
    alertmanager: AlertmanagerServer,
    receivers_at: tuple[ProgrammableHTTPServer, ProgrammableHTTPServer],
) -> None:
    _, hook = receivers_at
    hook.respond("/alerts", 500, body="down for maintenance")
    monitoring_env(**{"monitoring.receivers.slack": {}, "monitoring.receivers.webhook": {}})
    result = run_task(
        "monitoring.alert-test", "--env", ENV, "--url", alertmanager.url, "--timeout", "20"
    )
    assert result.code == 1
    assert "✓ slack: delivered" in result.out
    assert "✗ webhook: the receiver refused" in result.out
    assert "not delivered by: webhook" in result.err
    assert "Traceback" not in result.err


def test_alert_test_without_alertmanager_names_the_port_forward(
    run_task: Run, monitoring_env: MonitoringEnv
) -> None:
    from tests.support.processes import free_port

    monitoring_env(**{"monitoring.receivers.webhook": {}})
    url = f"http://127.0.0.1:{free_port()}"
    result = run_task("monitoring.alert-test", "--env", ENV, "--url", url)
    assert result.code == 1
    assert f"cannot reach Alertmanager at {url}" in result.err
    assert "port-forward service/alertmanager-operated 9093:9093" in result.err


def test_alert_test_without_receivers_is_refused(
    run_task: Run, monitoring_env: MonitoringEnv
) -> None:
    monitoring_env()
    result = run_task("monitoring.alert-test", "--env", ENV)
    assert result.code == 2
    assert "monitoring.receivers: none configured" in result.err


def test_alert_test_refuses_a_bad_timeout(run_task: Run, monitoring_env: MonitoringEnv) -> None:
    monitoring_env(**{"monitoring.receivers.webhook": {}})
    result = run_task("monitoring.alert-test", "--env", ENV, "--timeout", "soon")
    assert result.code == 2
    assert "option --timeout" in result.err
