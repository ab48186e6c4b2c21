"""`invoke hub.usage`: who used the hub, how much, on which profiles, from Prometheus.

Read through the port-forward `monitoring.grafana` prints for Prometheus (the operator's
`prometheus-operated` Service, port 9090) or --url. The series are kube-state-metrics':

- a user server is a pod with `component: singleuser-server` in the hub's namespace,
  named by `kube_pod_labels`' label_hub_jupyter_org_username and
  label_hub_jupyter_org_profile (the values allowlist both pod labels; KubeSpawner sets
  hub.jupyter.org/username, our profile overrides set hub.jupyter.org/profile);
- it counts while `kube_pod_status_phase{phase="Running"}` is 1;
- its GPUs are `kube_pod_container_resource_requests{resource="nvidia_com_gpu"}`.

One range query per quantity, evaluated every STEP seconds (longer windows use a
longer step to stay under Prometheus's 11,000 points per series), so a server counts
STEP seconds for every evaluation at which it runs: server-hours and GPU-hours are
exact to one step. Days and months are UTC calendar days and months.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.console import Console
from ..core.errors import BadInput, OperationFailed, Problem, bad_option
from ..core.loading import Environment

PROMETHEUS_SERVICE = "prometheus-operated"  # the operator's Service, as monitoring.grafana uses
PORT = 9090
DEFAULT_URL = f"http://localhost:{PORT}"
STEP = 300
MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 points per series
UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}
USER = "label_hub_jupyter_org_username"
PROFILE = "label_hub_jupyter_org_profile"
NO_PROFILE = "(none)"


def parse_since(text: str) -> int:
    """--since as seconds: 12h, 30d, 8w (at most 400 days)."""
    match = re.fullmatch(r"(\d+)([hdw])", text.strip())
    seconds = int(match[1]) * UNITS[match[2]] if match else 0
    if not match or not 0 < seconds <= 400 * 86400:
        raise bad_option(
            "--since",
            f"{text!r} is not allowed; give hours, days or weeks up to "
            "400 days, like 12h, 30d or 8w",
        )
    return seconds


def step_for(span: int) -> int:
    return max(STEP, STEP * math.ceil(span / (STEP * MAX_POINTS)))


def queries(namespace: str) -> dict[str, str]:
    running = f'(kube_pod_status_phase{{namespace="{namespace}", phase="Running"}} == 1)'
    servers = (
        f'kube_pod_labels{{namespace="{namespace}", label_component="singleuser-server"}}'
        f" * on (namespace, pod) group_left () {running}"
    )
    gpus = (
        "sum by (namespace, pod) (kube_pod_container_resource_requests"
        f'{{namespace="{namespace}", resource="nvidia_com_gpu"}})'
        f" * on (namespace, pod) group_left ({USER}, {PROFILE}) {servers}"
    )
    return {"servers": servers, "gpus": gpus}


@dataclass
class Report:
    start: dt.datetime
    end: dt.datetime
    step: int
    daily_users: dict[str, set[str]] = field(default_factory=dict)
    monthly_users: dict[str, set[str]] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)
    server_hours: dict[str, float] = field(default_factory=dict)  # per profile
    daily_server_hours: dict[tuple[str, str], float] = field(default_factory=dict)
    gpu_hours: float = 0.0
    daily_gpu_hours: dict[str, float] = field(default_factory=dict)
    peak: int = 0
    peak_at: dt.datetime | None = None
    daily_peak: dict[str, int] = field(default_factory=dict)

    def days(self) -> list[str]:
        first, last = self.start.date(), self.end.date()
        return [str(first + dt.timedelta(days=n)) for n in range((last - first).days + 1)]


def _when(stamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(stamp, dt.UTC)


def summarise(
    servers: list[dict[str, Any]],
    gpus: list[dict[str, Any]],
    start: dt.datetime,
    end: dt.datetime,
    step: int,
) -> Report:
    """The report from the two range query results (Prometheus matrices)."""
    report = Report(start, end, step)
    hours = step / 3600
    concurrent: dict[float, int] = defaultdict(int)
    server_hours: dict[str, float] = defaultdict(float)
    daily_server_hours: dict[tuple[str, str], float] = defaultdict(float)
    for series in servers:
        user = series["metric"].get(USER, "")
        profile = series["metric"].get(PROFILE) or NO_PROFILE
        for stamp, _ in series["values"]:
            moment = _when(float(stamp))
            day, month = str(moment.date()), moment.strftime("%Y-%m")
            if user:
                report.users.add(user)
                report.daily_users.setdefault(day, set()).add(user)
                report.monthly_users.setdefault(month, set()).add(user)
            server_hours[profile] += hours
            daily_server_hours[(day, profile)] += hours
            concurrent[float(stamp)] += 1
    for series in gpus:
        for stamp, value in series["values"]:
            day = str(_when(float(stamp)).date())
            used = float(value) * hours
            report.gpu_hours += used
            report.daily_gpu_hours[day] = report.daily_gpu_hours.get(day, 0.0) + used
    for stamp, count in sorted(concurrent.items()):
        day = str(_when(stamp).date())
        report.daily_peak[day] = max(report.daily_peak.get(day, 0), count)
        if count > report.peak:
            report.peak, report.peak_at = count, _when(stamp)
    report.server_hours = dict(server_hours)
    report.daily_server_hours = dict(daily_server_hours)
    return report


class Prometheus:
    def __init__(self, url: str, forward: str) -> None:
        import requests

        self.url = url.rstrip("/")
        self.forward = forward
        self.session = requests.Session()
        self.session.trust_env = False  # a localhost port-forward never goes through a proxy

    def range(self, expr: str, start: float, end: float, step: int) -> list[dict[str, Any]]:
        import requests

        params = {"query": expr, "start": f"{start:.0f}", "end": f"{end:.0f}", "step": str(step)}
        try:
            answer = self.session.get(f"{self.url}/api/v1/query_range", params=params, timeout=120)
        except requests.RequestException as error:
            raise OperationFailed(
                f"cannot reach Prometheus at {self.url} ({type(error).__name__})",
                f"start the port-forward and keep it running: {self.forward} (or pass --url)",
            ) from None
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code != 200 or body.get("status") != "success":
            raise OperationFailed(
                f"Prometheus at {self.url} refused the usage query (HTTP {answer.status_code}): "
                f"{body.get('error', answer.text[:200])}",
                "check that --url points at Prometheus (port 9090), not Grafana",
            )
        result: list[dict[str, Any]] = body["data"]["result"]
        return result


def run(
    environment: Environment,
    ui: Console,
    *,
    since: str = "30d",
    csv_path: str = "",
    url: str = "",
    now: dt.datetime | None = None,
) -> Report:
    span = parse_since(since)
    settings = environment.settings
    if not settings.monitoring.enabled:
        raise BadInput(Problem("monitoring.enabled", "is false; usage comes from Prometheus"))
    target = Path(csv_path) if csv_path else None
    if target is not None and not target.parent.is_dir():
        raise bad_option("--csv", f"{csv_path}: the folder {target.parent} does not exist")
    monitoring = settings.monitoring
    forward = (
        f"kubectl --kubeconfig {environment.kubeconfig} --namespace {monitoring.namespace} "
        f"port-forward service/{PROMETHEUS_SERVICE} {PORT}:{PORT}"
    )
    prometheus = Prometheus(url or DEFAULT_URL, forward)
    end = (now or dt.datetime.now(dt.UTC)).timestamp()
    step = step_for(span)
    # Evaluations on multiples of the step, so re-runs and hand checks agree.
    start = math.ceil((end - span) / step) * step
    found = {
        name: prometheus.range(expr, start, end, step)
        for name, expr in queries(settings.hub.namespace).items()
    }
    report = summarise(found["servers"], found["gpus"], _when(start), _when(end), step)
    show(ui, report, settings.hub.namespace)
    if target is not None:
        write_csv(target, report)
        ui.print(f"CSV: {target}")
    return report


def _hours(value: float) -> str:
    return f"{value:.1f}"


def show(ui: Console, report: Report, namespace: str) -> None:
    start, end = report.start.strftime("%Y-%m-%d %H:%M"), report.end.strftime("%Y-%m-%d %H:%M")
    ui.heading(f"Usage of the hub in {namespace}, {start} to {end} UTC")
    ui.print(f"  sampled every {report.step // 60} minutes; days and months are UTC")
    ui.print(f"Active users: {len(report.users)}")
    for month, users in sorted(report.monthly_users.items()):
        ui.print(f"  {month}: {len(users)} monthly active users")
    peak_at = report.peak_at.strftime("%Y-%m-%d %H:%M UTC") if report.peak_at else "-"
    ui.print(f"Peak concurrent servers: {report.peak} (at {peak_at})")
    ui.print("Server-hours per profile:")
    for profile, hours in sorted(report.server_hours.items()):
        ui.print(f"  {profile}: {_hours(hours)}")
    if not report.server_hours:
        ui.print("  none")
    ui.print(f"GPU-hours: {_hours(report.gpu_hours)}")
    ui.print("Daily: date, active users, server-hours, GPU-hours, peak servers")
    for day in report.days():
        hours = sum(v for (d, _), v in report.daily_server_hours.items() if d == day)
        ui.print(
            f"  {day}  {len(report.daily_users.get(day, ())):>4}  {_hours(hours):>8}  "
            f"{_hours(report.daily_gpu_hours.get(day, 0.0)):>8}  "
            f"{report.daily_peak.get(day, 0):>4}"
        )


def rows(report: Report) -> list[list[str]]:
    """metric, period, profile, value: one long table, easy to pivot."""
    out = [["metric", "period", "profile", "value"]]
    for day in report.days():
        out.append(["daily_active_users", day, "", str(len(report.daily_users.get(day, ())))])
        for (d, profile), hours in sorted(report.daily_server_hours.items()):
            if d == day:
                out.append(["server_hours", day, profile, _hours(hours)])
        out.append(["gpu_hours", day, "", _hours(report.daily_gpu_hours.get(day, 0.0))])
        out.append(["peak_concurrent_servers", day, "", str(report.daily_peak.get(day, 0))])
    for month, users in sorted(report.monthly_users.items()):
        out.append(["monthly_active_users", month, "", str(len(users))])
    period = f"{report.start.date()}/{report.end.date()}"
    out.append(["active_users", period, "", str(len(report.users))])
    for profile, hours in sorted(report.server_hours.items()):
        out.append(["server_hours", period, profile, _hours(hours)])
    out.append(["gpu_hours", period, "", _hours(report.gpu_hours)])
    out.append(["peak_concurrent_servers", period, "", str(report.peak)])
    return out


def write_csv(path: Path, report: Report) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows(report))
