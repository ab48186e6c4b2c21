"""Alertmanager's configuration and the Secret its receivers read their credentials from.

The values only name two Secrets (helm_values/kube-prometheus-stack.yaml.j2):

- CONFIG_SECRET holds `alertmanager.yaml`, built here from `monitoring.receivers`; the
  chart's own config Secret is switched off (`useExistingSecret`), and the operator reads
  `spec.configSecret` instead (kube-prometheus-stack 88.5.3 values.yaml, alertmanagerSpec
  `configSecret` and `useExistingSecret`; templates/alertmanager/secret.yaml uses the same
  `alertmanager.yaml` key).
- RECEIVERS_SECRET holds the SMTP password and the webhook URLs from the secrets file. The
  operator mounts every Secret in `alertmanagerSpec.secrets` at
  /etc/alertmanager/secrets/<name>/ (values.yaml, alertmanagerSpec `secrets`), and the
  configuration points at those files with Alertmanager's `*_file` settings, so no secret
  is ever in the Helm values, the configuration or the tool's output.

`*_file` settings in Alertmanager (prometheus/alertmanager, config/notifiers.go):
email `auth_password_file` and slack `api_url_file` exist in v0.25.0; webhook `url_file`
arrived in v0.26.0 (commit 41eb1213b, "support loading webhook URL from a file"). The
chart ships Alertmanager v0.34.0 (values.yaml alertmanagerSpec.image.tag), which has all
three.
"""

from __future__ import annotations

from typing import Any

import yaml

from ..core.errors import BadInput, Problem
from ..core.manifests import Manifest, secret
from ..core.settings import Secrets, Settings
from .alerts import ORIGIN

CONFIG_SECRET = "alertmanager-jhub-config"
RECEIVERS_SECRET = "alertmanager-jhub-receivers"
CONFIG_KEY = "alertmanager.yaml"
SECRETS_DIR = f"/etc/alertmanager/secrets/{RECEIVERS_SECRET}"
OPERATORS = "operators"
NULL = "null"
# The synthetic alert of `monitoring.alert-test`: routed at once, to the operators.
TEST_ALERT = "JhubAlertTest"

# Secret key in RECEIVERS_SECRET -> field of the secrets file.
SECRET_FILES = {
    "smtp-password": "alert_smtp_password",
    "slack-webhook-url": "alert_slack_webhook_url",
    "webhook-url": "alert_webhook_url",
}

# kube-prometheus-stack 88.5.3's default alertmanager.config (values.yaml): these inhibit
# rules and the Watchdog/InfoInhibitor routes to "null" belong to its bundled rules, which
# keep running, so the replacement keeps them.
CHART_INHIBIT_RULES: list[dict[str, Any]] = [
    {
        "source_matchers": ["severity = critical"],
        "target_matchers": ["severity =~ warning|info"],
        "equal": ["namespace", "alertname"],
    },
    {
        "source_matchers": ["severity = warning"],
        "target_matchers": ["severity = info"],
        "equal": ["namespace", "alertname"],
    },
    {
        "source_matchers": ["alertname = InfoInhibitor"],
        "target_matchers": ["severity = info"],
        "equal": ["namespace"],
    },
    {"target_matchers": ["alertname = InfoInhibitor"]},
]


def configured(settings: Settings) -> list[str]:
    """The receiver kinds present in config: email, slack, webhook."""
    receivers = settings.monitoring.receivers
    return [
        kind
        for kind, section in (
            ("email", receivers.email),
            ("slack", receivers.slack),
            ("webhook", receivers.webhook),
        )
        if section is not None
    ]


def check(settings: Settings, secrets: Secrets, secrets_path: str) -> None:
    """Slack and webhook need their URL in the secrets file; refuse before any call."""
    problems = []
    for kind, field in (("slack", "alert_slack_webhook_url"), ("webhook", "alert_webhook_url")):
        if kind not in configured(settings):
            continue
        value = getattr(secrets, field)
        if not value:
            problems.append(
                Problem(
                    f"secrets.{field}",
                    f"empty, but monitoring.receivers.{kind} is configured; put the URL in "
                    f"{secrets_path}",
                )
            )
        elif not value.startswith(("https://", "http://")):
            problems.append(Problem(f"secrets.{field}", "is not an http(s):// URL"))
    email = settings.monitoring.receivers.email
    if email is not None and email.username and not secrets.alert_smtp_password:
        problems.append(
            Problem(
                "secrets.alert_smtp_password",
                f"empty, but monitoring.receivers.email.username is set; put the SMTP "
                f"password in {secrets_path}",
            )
        )
    if problems:
        raise BadInput(problems)


def _file(key: str) -> str:
    return f"{SECRETS_DIR}/{key}"


def operators_receiver(settings: Settings) -> dict[str, Any]:
    receivers = settings.monitoring.receivers
    found: dict[str, Any] = {"name": OPERATORS}
    if receivers.email is not None:
        email = receivers.email
        entry: dict[str, Any] = {
            "to": ", ".join(email.to),
            "from": email.sender,
            "smarthost": email.smarthost,
            "require_tls": email.require_tls,
            "send_resolved": True,
        }
        if email.username:
            entry["auth_username"] = email.username
            entry["auth_password_file"] = _file("smtp-password")
        found["email_configs"] = [entry]
    if receivers.slack is not None:
        slack: dict[str, Any] = {
            "api_url_file": _file("slack-webhook-url"),
            "send_resolved": True,
            "title": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}",
            "text": (
                "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.description }}\n"
                "Runbook: {{ .Annotations.runbook }}\n{{ end }}"
            ),
        }
        if receivers.slack.channel:
            slack["channel"] = receivers.slack.channel
        found["slack_configs"] = [slack]
    if receivers.webhook is not None:
        found["webhook_configs"] = [
            {"url_file": _file("webhook-url"), "send_resolved": receivers.webhook.send_resolved}
        ]
    return found


def _matcher(labels: dict[str, str]) -> list[str]:
    return [f'{key}="{value}"' for key, value in labels.items()]


def config(settings: Settings) -> dict[str, Any]:
    """alertmanager.yaml: ours and (as chosen) the chart's alerts to the operators."""
    receivers = settings.monitoring.receivers
    deliver = bool(configured(settings))
    routes: list[dict[str, Any]] = [
        {"receiver": NULL, "matchers": ['alertname=~"Watchdog|InfoInhibitor"']}
    ]
    if deliver:
        routes += [
            {
                "receiver": OPERATORS,
                "matchers": [f'alertname="{TEST_ALERT}"'],
                "group_by": ["alertname", "test_id"],
                "group_wait": "0s",
            },
            {"receiver": OPERATORS, "matchers": _matcher(ORIGIN)},
        ]
        if receivers.chart_alerts == "critical":
            routes.append({"receiver": OPERATORS, "matchers": ['severity="critical"']})
    root = OPERATORS if deliver and receivers.chart_alerts == "all" else NULL
    built: dict[str, Any] = {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": root,
            "group_by": ["namespace", "alertname"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": f"{receivers.repeat_hours}h",
            "routes": routes,
        },
        "inhibit_rules": CHART_INHIBIT_RULES,
        "receivers": [{"name": NULL}, *([operators_receiver(settings)] if deliver else [])],
    }
    return built


def config_text(settings: Settings) -> str:
    return yaml.safe_dump(config(settings), sort_keys=False, allow_unicode=True)


def secret_files(settings: Settings, secrets: Secrets) -> dict[str, str]:
    """Key -> secret for the receivers in use (what RECEIVERS_SECRET holds)."""
    kinds = configured(settings)
    email = settings.monitoring.receivers.email
    wanted = {
        "smtp-password": email is not None and bool(email.username),
        "slack-webhook-url": "slack" in kinds,
        "webhook-url": "webhook" in kinds,
    }
    return {
        key: getattr(secrets, SECRET_FILES[key])
        for key, used in wanted.items()
        if used and getattr(secrets, SECRET_FILES[key])
    }


def manifests(settings: Settings, secrets: Secrets) -> list[Manifest]:
    """The two Secrets, in the order they are applied (before the release)."""
    namespace = settings.monitoring.namespace
    return [
        secret(RECEIVERS_SECRET, namespace, secret_files(settings, secrets)),
        secret(CONFIG_SECRET, namespace, {CONFIG_KEY: config_text(settings)}),
    ]
