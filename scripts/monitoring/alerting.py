"""The alerting steps of `monitoring.deploy`: receivers before the release, rules after.

Kept apart from deploy.py, which owns the release itself; deploy.run calls these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import kube
from ..core.loading import Environment
from ..core.settings import Secrets, Settings
from . import alerts, receivers

if TYPE_CHECKING:
    from .deploy import Deployment


def check(environment: Environment, settings: Settings, secrets: Secrets) -> None:
    """Refuse unknown rule names and receivers without their secrets, before any call."""
    alerts.check(settings)
    receivers.check(settings, secrets, str(environment.secrets_path))


def _report(step: object, outcome: kube.Outcome, dry_run: bool) -> None:
    if outcome == "unchanged":
        step.unchanged()  # type: ignore[attr-defined]
    elif dry_run:
        step.planned(f"would be {outcome}")  # type: ignore[attr-defined]
    else:
        step.done(outcome)  # type: ignore[attr-defined]


def ensure_receivers(run: Deployment, settings: Settings, secrets: Secrets) -> None:
    """The receivers' credentials and Alertmanager's configuration, as two Secrets."""
    kinds = receivers.configured(settings) or ["none: alerts stay in Alertmanager"]
    for manifest in receivers.manifests(settings, secrets):
        label = kube.describe(manifest)
        suffix = (
            f" (receivers: {', '.join(kinds)})"
            if manifest["metadata"]["name"] == receivers.CONFIG_SECRET
            else ""
        )
        with run.ui.step(f"{label}{suffix}") as step:
            _report(step, kube.ensure(run.api, manifest, run.changes), run.changes.dry_run)


def ensure_rules(run: Deployment, settings: Settings) -> None:
    """The PrometheusRule; after the release, whose CRDs it needs on a first install."""
    chosen = alerts.chosen(settings, run.environment.name)
    manifest = alerts.manifest(settings, run.environment.name)
    label = f"PrometheusRule {settings.monitoring.namespace}/{alerts.RULE_OBJECT}"
    with run.ui.step(f"{label} ({len(chosen)} alert rules)") as step:
        _report(step, alerts.ensure(run.api, manifest, run.changes), run.changes.dry_run)
