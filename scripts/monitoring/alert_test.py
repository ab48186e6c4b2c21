"""`invoke monitoring.alert-test`: one synthetic alert through Alertmanager to the receivers.

Alertmanager is reached through a port-forward (the one `monitoring.grafana` prints for
Prometheus, on the operator's `alertmanager-operated` Service) or --url. The alert carries
our origin label and the test's own name, so receivers.py routes it to the operators at
once (group_wait 0s). Acceptance is Alertmanager's answer to POST /api/v2/alerts and the
alert listed by GET /api/v2/alerts; delivery is read from Alertmanager's own counters,
alertmanager_notification_requests_total and ..._failed_total by `integration`
(prometheus/alertmanager notify/notify.go in v0.25.0, notify/metrics.go in v0.34.0), which
count every attempt, so a receiver that refuses shows up within a second instead of after
the retries run out.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..core.console import Console
from ..core.errors import BadInput, OperationFailed, Problem
from ..core.loading import Environment
from ..core.waiting import Clock, RealClock
from . import alerts, receivers
from .grafana import port_forward

SERVICE = "alertmanager-operated"  # made by the Prometheus operator, fixed name
PORT = 9093
DEFAULT_URL = f"http://localhost:{PORT}"
# Integration names as Alertmanager labels its counters (notify/notify.go).
INTEGRATIONS = {"email": "email", "slack": "slack", "webhook": "webhook"}
_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)")


@dataclass
class Outcome:
    accepted: bool = False
    delivered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.accepted and not self.failed and not self.silent


def counters(text: str) -> dict[tuple[str, str], float]:
    """(metric, integration) -> value for the two request counters, summed over labels."""
    found: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or not match["name"].startswith("alertmanager_notification_requests"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        key = (match["name"], labels.get("integration", ""))
        found[key] = found.get(key, 0.0) + float(match["value"])
    return found


def test_alert(environment: Environment, test_id: str, now: dt.datetime) -> dict[str, Any]:
    settings = environment.settings
    return {
        "labels": {
            "alertname": receivers.TEST_ALERT,
            "severity": "warning",
            "namespace": settings.hub.namespace,
            "test_id": test_id,
            **alerts.ORIGIN,
        },
        "annotations": {
            "summary": f"Test alert from invoke monitoring.alert-test --env {environment.name}",
            "description": "If you read this, alerts reach you. Nothing is wrong.",
            "runbook": "nothing to do; it resolves by itself in 5 minutes",
        },
        "startsAt": now.isoformat(),
        "endsAt": (now + dt.timedelta(minutes=5)).isoformat(),
    }


class Alertmanager:
    def __init__(self, url: str, forward: str) -> None:
        import requests

        self.url = url.rstrip("/")
        self.forward = forward
        self.session = requests.Session()
        # A port-forward on localhost must not go through a configured HTTP proxy.
        self.session.trust_env = False

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        try:
            return self.session.request(method, f"{self.url}{path}", timeout=10, **kwargs)
        except requests.RequestException as error:
            raise OperationFailed(
                f"cannot reach Alertmanager at {self.url} ({type(error).__name__})",
                f"start the port-forward and keep it running: {self.forward} (or pass --url)",
            ) from None

    def metrics(self) -> dict[tuple[str, str], float]:
        answer = self._call("GET", "/metrics")
        return counters(answer.text) if answer.status_code == 200 else {}

    def post(self, alert: dict[str, Any]) -> tuple[int, str]:
        answer = self._call("POST", "/api/v2/alerts", json=[alert])
        return answer.status_code, answer.text.strip()

    def listed(self, test_id: str) -> list[dict[str, Any]]:
        answer = self._call("GET", "/api/v2/alerts", params={"filter": f'test_id="{test_id}"'})
        body = answer.json() if answer.status_code == 200 else []
        return body if isinstance(body, list) else []


def check(environment: Environment) -> list[str]:
    kinds = receivers.configured(environment.settings)
    if not environment.settings.monitoring.enabled:
        raise BadInput(Problem("monitoring.enabled", "is false; there is no Alertmanager"))
    if not kinds:
        raise BadInput(
            Problem(
                "monitoring.receivers",
                "none configured (email, slack or webhook); the test alert would reach nobody",
            )
        )
    return kinds


def run(
    environment: Environment,
    ui: Console,
    *,
    url: str = "",
    timeout: float = 60.0,
    clock: Clock | None = None,
) -> Outcome:
    kinds = check(environment)
    clock = clock or RealClock()
    monitoring = environment.settings.monitoring
    forward = port_forward(environment.kubeconfig, monitoring.namespace, SERVICE, PORT, PORT)
    manager = Alertmanager(url or DEFAULT_URL, forward)
    outcome = Outcome()
    before = manager.metrics()
    test_id = uuid.uuid4().hex[:12]
    with ui.step(f"send test alert {receivers.TEST_ALERT} (test_id {test_id})") as step:
        status, text = manager.post(test_alert(environment, test_id, dt.datetime.now(dt.UTC)))
        if status != 200:
            raise OperationFailed(
                f"Alertmanager refused the test alert (HTTP {status}): {text[:200]}",
                "check that --url points at Alertmanager's API (port 9093)",
            )
        found = manager.listed(test_id)
        names = sorted({r.get("name", "") for a in found for r in a.get("receivers", [])})
        if receivers.OPERATORS not in names:
            where = f"routed to {', '.join(names)}" if names else "not listed by /api/v2/alerts"
            raise OperationFailed(
                f"Alertmanager accepted the test alert but it was {where}, "
                f"not to {receivers.OPERATORS!r}",
                f"redeploy its configuration: `invoke monitoring.deploy --env {environment.name}`",
            )
        outcome.accepted = True
        step.done(f"accepted; routed to {', '.join(names)}")

    waiting = {INTEGRATIONS[kind] for kind in kinds}
    started = clock.monotonic()
    while waiting and clock.monotonic() - started < timeout:
        clock.sleep(1.0)
        after = manager.metrics()
        for integration in sorted(waiting):
            sent = _delta(before, after, "alertmanager_notification_requests_total", integration)
            failed = _delta(
                before, after, "alertmanager_notification_requests_failed_total", integration
            )
            if sent > failed:
                outcome.delivered.append(integration)
            elif failed > 0:
                outcome.failed.append(integration)
            else:
                continue
            waiting.discard(integration)
    outcome.silent = sorted(waiting)
    for integration in outcome.delivered:
        ui.print(f"  ✓ {integration}: delivered (Alertmanager's request succeeded)")
    for integration in outcome.failed:
        ui.print(f"  ✗ {integration}: the receiver refused or could not be reached")
    for integration in outcome.silent:
        ui.print(f"  ? {integration}: no attempt within {timeout:.0f} s")
    if not outcome.ok:
        bad = ", ".join(outcome.failed + outcome.silent)
        raise OperationFailed(
            f"the test alert was accepted but not delivered by: {bad}",
            f"see Alertmanager's log (`kubectl --kubeconfig {environment.kubeconfig} "
            f"--namespace {monitoring.namespace} logs -l app.kubernetes.io/name=alertmanager "
            "-c alertmanager`) and the receiver settings in monitoring.receivers",
        )
    return outcome


def _delta(
    before: dict[tuple[str, str], float],
    after: dict[tuple[str, str], float],
    metric: str,
    integration: str,
) -> float:
    return after.get((metric, integration), 0.0) - before.get((metric, integration), 0.0)
