"""`invoke hub.usage` against Debian's Prometheus holding recorded kube-state-metrics series.

The scene is written below as OpenMetrics (one sample a minute, kube-state-metrics' own
label sets with the ServiceMonitor's target labels) and loaded with `promtool tsdb
create-blocks-from openmetrics`. D1 and D2 are the UTC days three and two days before
today, so `--since 4d` covers both whatever the time of day.

A server runs from its start up to, not including, its end: its Running series is 1 on
those minutes and 0 for ten minutes after (the pod has Succeeded), then the pod is gone.
hub.usage evaluates every 5 minutes on multiples of 300 s, which UTC midnight is, so a
server running 10:00-12:00 is seen at 10:00, 10:05, ... 11:55: 24 evaluations of 5
minutes, exactly 2 hours.

    D1  alice  default       10:00-12:00   2.0 h
        bob    gpu (1 GPU)   11:00-14:00   3.0 h   3.0 GPU-h
    D2  alice  default       09:00-10:30   1.5 h   (a new pod, new uid)
        carol  default       09:20-09:50   0.5 h
        bob    gpu (2 GPUs)  09:00-09:30   0.5 h   1.0 GPU-h
        dave   default       12:00-12:30   Pending throughout: not a server that ran
    and a user placeholder running all along, which is not a user's server.

By hand:
    active users: alice, bob, carol = 3; D1: 2 (alice, bob); D2: 3 (alice, bob, carol)
    server-hours: default 2.0 + 1.5 + 0.5 = 4.0; gpu 3.0 + 0.5 = 3.5
    GPU-hours: 3 * 1 + 0.5 * 2 = 4.0 (D1 3.0, D2 1.0)
    peak: D1 11:00-11:55 alice and bob = 2; D2 09:20 and 09:25 alice, bob and carol = 3,
    first at 09:20 on D2
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TaskRun
from tests.hub import environments
from tests.support.components import PrometheusFactory, PrometheusServer

Run = Callable[..., TaskRun]
ENV = "usage"
NS = "jhub"
KSM = {
    "job": "kube-state-metrics",
    "instance": "10.100.1.5:8080",
    "container": "kube-state-metrics",
    "service": "prometheus-kube-state-metrics",
    "endpoint": "http",
}
TODAY = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
D1, D2 = TODAY - dt.timedelta(days=3), TODAY - dt.timedelta(days=2)


@dataclass(frozen=True)
class Server:
    user: str
    profile: str
    component: str
    day: dt.datetime
    start: str  # HH:MM
    end: str
    gpus: int = 0
    phase: str = "Running"

    def at(self, clock: str) -> int:
        hours, minutes = clock.split(":")
        return int((self.day + dt.timedelta(hours=int(hours), minutes=int(minutes))).timestamp())

    @property
    def pod(self) -> str:
        return f"jupyter-{self.user}" if self.component == "singleuser-server" else self.user


SCENE = [
    Server("alice", "default", "singleuser-server", D1, "10:00", "12:00"),
    Server("bob", "gpu", "singleuser-server", D1, "11:00", "14:00", gpus=1),
    Server("alice", "default", "singleuser-server", D2, "09:00", "10:30"),
    Server("carol", "default", "singleuser-server", D2, "09:20", "09:50"),
    Server("bob", "gpu", "singleuser-server", D2, "09:00", "09:30", gpus=2),
    Server("dave", "default", "singleuser-server", D2, "12:00", "12:30", phase="Pending"),
    Server("user-placeholder-0", "", "user-placeholder", D1, "00:00", "23:59"),
    Server("user-placeholder-0", "", "user-placeholder", D2, "00:00", "23:59"),
]


def labels(values: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in values.items()) + "}"


def openmetrics() -> str:
    families: dict[str, list[str]] = {
        "kube_pod_labels": [],
        "kube_pod_status_phase": [],
        "kube_pod_container_resource_requests": [],
    }
    for number, server in enumerate(SCENE):
        pod = {"namespace": NS, "pod": server.pod, "uid": f"uid-{number}"}
        own = {**KSM, **pod}
        pod_labels = {
            **own,
            "label_app": "jupyterhub",
            "label_component": server.component,
        }
        if server.component == "singleuser-server":
            pod_labels["label_hub_jupyter_org_username"] = server.user
            pod_labels["label_hub_jupyter_org_profile"] = server.profile
        start, end = server.at(server.start), server.at(server.end)
        for stamp in range(start, end + 600, 60):
            live = stamp < end
            families["kube_pod_labels"].append(f"kube_pod_labels{labels(pod_labels)} 1 {stamp}")
            for phase in ("Pending", "Running", "Succeeded"):
                value = int(phase == (server.phase if live else "Succeeded"))
                families["kube_pod_status_phase"].append(
                    f"kube_pod_status_phase{labels({**own, 'phase': phase})} {value} {stamp}"
                )
            if server.gpus:
                request = {
                    **own,
                    "container": "notebook",
                    "node": "jhub-example-gpu-worker-0",
                    "resource": "nvidia_com_gpu",
                    "unit": "integer",
                }
                families["kube_pod_container_resource_requests"].append(
                    f"kube_pod_container_resource_requests{labels(request)} {server.gpus} {stamp}"
                )
    out = []
    for name, lines in families.items():
        out += [f"# HELP {name} recorded for hub.usage", f"# TYPE {name} gauge"]
        # One series' samples together, in time order, as OpenMetrics requires.
        out += sorted(lines, key=lambda line: (line.rsplit(" ", 2)[0], int(line.rsplit(" ", 1)[1])))
    return "\n".join(out) + "\n# EOF\n"


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, prometheus_bin: str, promtool_bin: str
) -> Iterator[PrometheusServer]:
    servers = PrometheusFactory(prometheus_bin, tmp_path_factory.mktemp("usage"), promtool_bin)
    try:
        yield servers(backfill=openmetrics())
    finally:
        servers.close()


@pytest.fixture
def usage_env(config_dir: Path) -> None:
    config = environments.example()
    environments.write(config_dir, ENV, config)


def day(moment: dt.datetime) -> str:
    return str(moment.date())


@pytest.mark.usefixtures("usage_env")
def test_the_report_matches_the_hand_counts(run_task: Run, prometheus: PrometheusServer) -> None:
    result = run_task("hub.usage", "--env", ENV, "--since", "4d", "--url", prometheus.url)
    assert result.code == 0, result.err
    out = result.out
    assert "Active users: 3" in out
    assert "  default: 4.0" in out and "  gpu: 3.5" in out
    assert "GPU-hours: 4.0" in out
    assert f"Peak concurrent servers: 3 (at {day(D2)} 09:20 UTC)" in out
    assert f"  {day(D1)}     2       5.0       3.0     2" in out
    assert f"  {day(D2)}     3       2.5       1.0     3" in out
    assert "sampled every 5 minutes" in out


@pytest.mark.usefixtures("usage_env")
def test_the_csv_holds_the_same_figures(
    run_task: Run, prometheus: PrometheusServer, tmp_path: Path
) -> None:
    target = tmp_path / "usage.csv"
    result = run_task(
        "hub.usage", "--env", ENV, "--since", "4d", "--url", prometheus.url, "--csv", str(target)
    )
    assert result.code == 0, result.err
    with target.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["metric", "period", "profile", "value"]
    found: dict[tuple[str, str, str], str] = {(m, p, f): v for m, p, f, v in rows[1:]}
    assert found[("daily_active_users", day(D1), "")] == "2"
    assert found[("daily_active_users", day(D2), "")] == "3"
    assert found[("server_hours", day(D1), "default")] == "2.0"
    assert found[("server_hours", day(D1), "gpu")] == "3.0"
    assert found[("server_hours", day(D2), "default")] == "2.0"
    assert found[("server_hours", day(D2), "gpu")] == "0.5"
    assert found[("gpu_hours", day(D2), "")] == "1.0"
    assert found[("peak_concurrent_servers", day(D1), "")] == "2"
    months: dict[str, str] = {p: v for (m, p, _), v in found.items() if m == "monthly_active_users"}
    # alice and bob on D1, alice, bob and carol on D2: one month or two, by the calendar.
    if D1.month == D2.month:
        assert months == {D1.strftime("%Y-%m"): "3"}
    else:
        assert months == {D1.strftime("%Y-%m"): "2", D2.strftime("%Y-%m"): "3"}
    period = [(m, f, v) for (m, p, f), v in found.items() if "/" in p]
    assert ("active_users", "", "3") in period
    assert ("gpu_hours", "", "4.0") in period


@pytest.mark.usefixtures("usage_env")
def test_without_prometheus_the_port_forward_is_named(run_task: Run) -> None:
    from tests.support.processes import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = run_task("hub.usage", "--env", ENV, "--url", url)
    assert result.code == 1
    assert f"cannot reach Prometheus at {url}" in result.err
    assert "port-forward service/prometheus-operated 9090:9090" in result.err


@pytest.mark.usefixtures("usage_env")
@pytest.mark.parametrize("since", ["30", "2y", "401d", "0d", "-3d"])
def test_a_bad_since_is_refused(run_task: Run, since: str) -> None:
    result = run_task("hub.usage", "--env", ENV, "--since", since)
    assert result.code == 2
    assert "option --since" in result.err


def test_long_windows_use_a_longer_step() -> None:
    from scripts.hub.usage import step_for

    # 30 days at 5 minutes is 8,640 points; 400 days would be 115,200, so the step grows
    # to 300 * ceil(34,560,000 / 3,000,000) = 300 * 12 = 3,600 s.
    assert step_for(30 * 86400) == 300
    assert step_for(400 * 86400) == 3600
