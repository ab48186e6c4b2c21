"""Every alert rule under `promtool test rules`: firing and quiet on synthetic series.

The rules are the ones `monitoring.deploy` would apply for config/example.yaml (GPU
profiles, Let's Encrypt, namespace jhub, retention_size 40GB) in environment `lab`. Each
case feeds series shaped like their exporter's (labels as metric_catalogue.py lists them)
and states the alert's labels and runbook literally. promtool compares annotations too, so
the summary and description are left out of the rule file given to `promtool test rules`
(one case keeps them all, to check that their templates expand), and `promtool check
rules` reads the complete file.

Times are promtool's: the series start at 0 s and each value is one `interval` apart.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.core.settings import Settings
from scripts.monitoring import alerts
from tests.monitoring.rule_settings import ENV, settings

ORIGIN = {"origin": "jhub-openstack"}
# One health-check URL the probe would report as `instance` (probe.py, chart relabelling).
PROBE = {
    "job": "blackbox-prometheus-blackbox-exporter",
    "instance": "https://jupyter.example.org/hub/api/health",
    "target": "jupyterhub",
}
GPU = {
    "gpu": "0",
    "UUID": "GPU-5a1c9e2f-0000-4000-8000-000000000001",
    "Hostname": "jhub-example-gpu-worker-0",
    "job": "nvidia-dcgm-exporter",
    "namespace": "gpu-operator",
}


def series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ", ".join(f'{key}="{value}"' for key, value in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def alert(labels: dict[str, str], severity: str, runbook: str) -> dict[str, Any]:
    return {
        "exp_labels": {**labels, "severity": severity, **ORIGIN},
        "exp_annotations": {"runbook": runbook},
    }


# (rule, input series, [(eval_time, expected alerts)]); an empty list: not firing.
CASES: list[tuple[str, list[dict[str, str]], list[tuple[str, list[dict[str, Any]]]]]] = [
    (
        "JupyterHubDown",
        [series("up", {"job": "hub", "namespace": "jhub", "instance": "10.0.0.5:8081"}, "1 1 0x8")],
        [
            # Down since 2m; `for: 5m` keeps it pending until 7m.
            ("6m", []),
            (
                "8m",
                [
                    alert(
                        {"job": "hub", "namespace": "jhub", "instance": "10.0.0.5:8081"},
                        "critical",
                        "invoke hub.status --env lab",
                    )
                ],
            ),
        ],
    ),
    (
        "JupyterHubDown",
        # No series at all: the hub's target vanished (absent() names the matchers).
        [series("up", {"job": "grafana", "namespace": "prometheus"}, "1x10")],
        [
            (
                "6m",
                [
                    alert(
                        {"job": "hub", "namespace": "jhub"},
                        "critical",
                        "invoke hub.status --env lab",
                    )
                ],
            )
        ],
    ),
    (
        "JupyterHubApiErrors",
        [
            # 100 good and 10 failing requests a minute: 10/110 = 9% > 5%.
            series(
                "jupyterhub_request_duration_seconds_count",
                {"namespace": "jhub", "code": "200", "handler": "UserAPIHandler", "method": "GET"},
                "0+100x30",
            ),
            series(
                "jupyterhub_request_duration_seconds_count",
                {"namespace": "jhub", "code": "503", "handler": "UserAPIHandler", "method": "GET"},
                "0+10x30",
            ),
        ],
        [("20m", [alert({}, "warning", "invoke hub.health --env lab")])],
    ),
    (
        "JupyterHubApiErrors",
        # 1 in 101 (1%) is below the threshold.
        [
            series(
                "jupyterhub_request_duration_seconds_count",
                {"namespace": "jhub", "code": "200", "handler": "UserAPIHandler", "method": "GET"},
                "0+100x30",
            ),
            series(
                "jupyterhub_request_duration_seconds_count",
                {"namespace": "jhub", "code": "500", "handler": "UserAPIHandler", "method": "GET"},
                "0+1x30",
            ),
        ],
        [("20m", [])],
    ),
    (
        "JupyterHubProxyDown",
        [
            series(
                "kube_deployment_status_replicas_available",
                {"namespace": "jhub", "deployment": "proxy", "job": "kube-state-metrics"},
                "1 1 0x10",
            ),
            series(
                "kube_deployment_status_replicas_available",
                {"namespace": "jhub", "deployment": "hub", "job": "kube-state-metrics"},
                "0x12",
            ),
        ],
        [
            (
                "8m",
                [
                    alert(
                        {"namespace": "jhub", "deployment": "proxy", "job": "kube-state-metrics"},
                        "critical",
                        "invoke hub.status --env lab",
                    )
                ],
            )
        ],
    ),
    (
        "JupyterHubProxyDown",
        [
            series(
                "kube_deployment_status_replicas_available",
                {"namespace": "jhub", "deployment": "proxy", "job": "kube-state-metrics"},
                "1x12",
            )
        ],
        [("8m", [])],
    ),
    (
        "JupyterHubUnreachable",
        [series("probe_success", PROBE, "1 0x10")],
        [("4m", []), ("7m", [alert(PROBE, "critical", "invoke lb.doctor --env lab")])],
    ),
    (
        "JupyterHubUnreachable",
        [series("probe_success", PROBE, "1x10")],
        [("7m", [])],
    ),
    (
        "JupyterHubSpawnsFailing",
        # Six failures within five minutes (>= 3 in 15 minutes).
        [
            series(
                "jupyterhub_server_spawn_duration_seconds_count",
                {"namespace": "jhub", "status": "failure"},
                "0 0 2 4 6 6",
            ),
            series(
                "jupyterhub_server_spawn_duration_seconds_count",
                {"namespace": "jhub", "status": "success"},
                "0+5x5",
            ),
        ],
        [("5m", [alert({}, "warning", "invoke hub.health --env lab")])],
    ),
    (
        "JupyterHubSpawnsFailing",
        # One failure among many successes.
        [
            series(
                "jupyterhub_server_spawn_duration_seconds_count",
                {"namespace": "jhub", "status": "failure"},
                "0 0 1 1 1 1",
            ),
        ],
        [("5m", [])],
    ),
    (
        "JupyterHubSpawnsSlow",
        # Every start lands between 300 s and 600 s: the 90th percentile interpolates
        # to 300 + 0.9 * 300 = 570 s > 300 s.
        [
            series(
                "jupyterhub_server_spawn_duration_seconds_bucket",
                {"namespace": "jhub", "status": "success", "le": le},
                values,
            )
            for le, values in (
                ("30", "0x40"),
                ("300", "0x40"),
                ("600", "0+1x40"),
                ("+Inf", "0+1x40"),
            )
        ],
        [("30m", [alert({}, "warning", "invoke hub.capacity --env lab")])],
    ),
    (
        "JupyterHubSpawnsSlow",
        # Every start under 30 s: the percentile is 15 + 0.9 * 15 = 28.5 s.
        [
            series(
                "jupyterhub_server_spawn_duration_seconds_bucket",
                {"namespace": "jhub", "status": "success", "le": le},
                values,
            )
            for le, values in (
                ("15", "0x40"),
                ("30", "0+1x40"),
                ("300", "0+1x40"),
                ("+Inf", "0+1x40"),
            )
        ],
        [("30m", [])],
    ),
    (
        "JupyterHubCertificateExpiring",
        # Expires at 864000 s (day 10); at 20 minutes that is under 14 days away.
        [series("probe_ssl_earliest_cert_expiry", PROBE, "864000x30")],
        [
            ("10m", []),
            ("20m", [alert(PROBE, "critical", "invoke hub.cert-status --env lab")]),
        ],
    ),
    (
        "JupyterHubCertificateExpiring",
        # 30 days away.
        [series("probe_ssl_earliest_cert_expiry", PROBE, "2592000x30")],
        [("20m", [])],
    ),
    (
        "KubernetesNodeNotReady",
        [
            series(
                "kube_node_status_condition",
                {"node": "jhub-example-default-worker-1", "condition": "Ready", "status": "true"},
                "1 0x15",
            ),
            series(
                "kube_node_status_condition",
                {"node": "jhub-example-default-worker-1", "condition": "Ready", "status": "false"},
                "0 1x15",
            ),
        ],
        [
            ("9m", []),
            (
                "12m",
                [
                    alert(
                        {
                            "node": "jhub-example-default-worker-1",
                            "condition": "Ready",
                            "status": "true",
                        },
                        "critical",
                        "invoke cluster.status --env lab",
                    )
                ],
            ),
        ],
    ),
    (
        "KubernetesNodeNotReady",
        [
            series(
                "kube_node_status_condition",
                {"node": "jhub-example-default-worker-1", "condition": "Ready", "status": "true"},
                "1x15",
            )
        ],
        [("12m", [])],
    ),
    (
        "PrometheusStorageNearRetention",
        # 36 GiB of blocks against 40GB (40 GiB to Prometheus): 90% > 85%.
        [
            series(
                "prometheus_tsdb_storage_blocks_bytes",
                {"job": "prometheus-kube-prometheus-prometheus", "namespace": "prometheus"},
                "38654705664x40",
            )
        ],
        [
            (
                "35m",
                [
                    {
                        **alert(
                            {
                                "job": "prometheus-kube-prometheus-prometheus",
                                "namespace": "prometheus",
                            },
                            "warning",
                            "invoke monitoring.deploy --env lab (after raising "
                            "monitoring.storage_size and monitoring.retention_size)",
                        )
                    }
                ],
            )
        ],
    ),
    (
        "PrometheusStorageNearRetention",
        # 30 GiB: 75%.
        [
            series(
                "prometheus_tsdb_storage_blocks_bytes",
                {"job": "prometheus-kube-prometheus-prometheus", "namespace": "prometheus"},
                "32212254720x40",
            )
        ],
        [("35m", [])],
    ),
    (
        "PodsPendingTooLong",
        [
            series(
                "kube_pod_status_phase",
                {"namespace": "jhub", "pod": "jupyter-alice", "phase": "Pending", "uid": "a1"},
                "1x20",
            ),
            # A placeholder waiting for room is the hub's normal state at max_workers.
            series(
                "kube_pod_status_phase",
                {"namespace": "jhub", "pod": "user-placeholder-0", "phase": "Pending", "uid": "p0"},
                "1x20",
            ),
            series(
                "kube_pod_labels",
                {
                    "namespace": "jhub",
                    "pod": "user-placeholder-0",
                    "uid": "p0",
                    "label_component": "user-placeholder",
                },
                "1x20",
            ),
        ],
        [
            ("10m", []),
            (
                "16m",
                [
                    alert(
                        {
                            "namespace": "jhub",
                            "pod": "jupyter-alice",
                            "phase": "Pending",
                            "uid": "a1",
                        },
                        "warning",
                        "invoke cluster.autoscaler --env lab",
                    )
                ],
            ),
        ],
    ),
    (
        "GpuXidError",
        # XID 79 (the GPU fell off the bus) appears at 3m and stays the last one seen.
        [series("DCGM_FI_DEV_XID_ERRORS", GPU, "0 0 0 79x20")],
        [
            ("2m", []),
            ("5m", [alert(GPU, "warning", "invoke gpu.status --env lab")]),
            # Ten minutes later nothing new happened: quiet again.
            ("20m", []),
        ],
    ),
    (
        "GpuDoubleBitEccErrors",
        [series("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", GPU, "0 0 0 1x10")],
        [("5m", [alert(GPU, "critical", "invoke gpu.status --env lab")])],
    ),
    (
        "GpuDoubleBitEccErrors",
        [series("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", GPU, "0x10")],
        [("5m", [])],
    ),
]

# The one case with every annotation, templates expanded by promtool.
VOLUME = {
    "namespace": "jhub",
    "persistentvolumeclaim": "claim-alice",
    "job": "kubelet",
    "node": "jhub-example-default-worker-0",
}
VOLUME_CASE: dict[str, Any] = {
    "interval": "1m",
    "input_series": [
        series("kubelet_volume_stats_used_bytes", VOLUME, "95x20"),
        series("kubelet_volume_stats_capacity_bytes", VOLUME, "100x20"),
        # Half full: quiet.
        series(
            "kubelet_volume_stats_used_bytes",
            {**VOLUME, "persistentvolumeclaim": "claim-bob"},
            "50x20",
        ),
        series(
            "kubelet_volume_stats_capacity_bytes",
            {**VOLUME, "persistentvolumeclaim": "claim-bob"},
            "100x20",
        ),
        # Not a user's home (the hub's database): not this rule's concern.
        series(
            "kubelet_volume_stats_used_bytes",
            {**VOLUME, "persistentvolumeclaim": "hub-db-dir"},
            "99x20",
        ),
        series(
            "kubelet_volume_stats_capacity_bytes",
            {**VOLUME, "persistentvolumeclaim": "hub-db-dir"},
            "100x20",
        ),
    ],
    "alert_rule_test": [
        {
            "eval_time": "16m",
            "alertname": "UserVolumeAlmostFull",
            "exp_alerts": [
                {
                    "exp_labels": {**VOLUME, "severity": "warning", **ORIGIN},
                    "exp_annotations": {
                        "summary": "A user's home volume is nearly full",
                        "description": "Claim claim-alice is over 90% full; the user's server "
                        "may fail to save or start.",
                        "runbook": "invoke hub.status --env lab",
                    },
                }
            ],
        }
    ],
}


def rule_file(chosen: Settings, *, runbook_only: bool) -> dict[str, Any]:
    groups = alerts.rule_groups(chosen, ENV)
    if runbook_only:
        for group in groups:
            for rule in group["rules"]:
                if rule["alert"] != "UserVolumeAlmostFull":
                    rule["annotations"] = {"runbook": rule["annotations"]["runbook"]}
    return {"groups": groups}


def promtool(promtool_bin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool_bin, *args], capture_output=True, text=True, timeout=120, check=False
    )


def write_tests(directory: Path, chosen: Settings, cases: list[Any]) -> Path:
    (directory / "rules.yaml").write_text(
        yaml.safe_dump(rule_file(chosen, runbook_only=True), sort_keys=False)
    )
    tests = [
        {
            "interval": "1m",
            "input_series": inputs,
            "alert_rule_test": [
                {"eval_time": at, "alertname": name, "exp_alerts": expected}
                for at, expected in evaluations
            ],
        }
        for name, inputs, evaluations in cases
    ]
    path = directory / "tests.yaml"
    path.write_text(
        yaml.safe_dump(
            {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests},
            sort_keys=False,
        )
    )
    return path


def test_every_rule_has_a_firing_and_a_quiet_case() -> None:
    shipped = {rule.name for rule in alerts.chosen(settings(), ENV)}
    covered = {name for name, *_ in CASES} | {"UserVolumeAlmostFull"}
    assert covered == shipped
    for name in shipped - {"UserVolumeAlmostFull"}:
        outcomes = [
            bool(exp) for case, _, evaluations in CASES if case == name for _, exp in evaluations
        ]
        assert True in outcomes and False in outcomes, f"{name} needs a firing and a quiet case"


def test_the_rules_pass_promtool_check(promtool_bin: str, tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rule_file(settings(), runbook_only=False), sort_keys=False))
    result = promtool(promtool_bin, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 13 rules found" in result.stdout


def test_every_rule_fires_and_stays_quiet_as_expected(promtool_bin: str, tmp_path: Path) -> None:
    path = write_tests(tmp_path, settings(), CASES)
    tests = yaml.safe_load(path.read_text())
    tests["tests"].append(VOLUME_CASE)
    path.write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool(promtool_bin, "test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_catches_a_wrong_expectation(promtool_bin: str, tmp_path: Path) -> None:
    # The runbook of the proxy rule claimed to be another task: promtool must say so.
    name, inputs, ((at, expected),) = CASES[4]
    wrong = copy.deepcopy(expected)
    wrong[0]["exp_annotations"]["runbook"] = "invoke hub.health --env lab"
    path = write_tests(tmp_path, settings(), [(name, inputs, [(at, wrong)])])
    result = promtool(promtool_bin, "test", "rules", str(path))
    assert result.returncode != 0
    assert "JupyterHubProxyDown" in result.stdout + result.stderr


def test_thresholds_come_from_config(promtool_bin: str, tmp_path: Path) -> None:
    # With a 60-day threshold the 30-day certificate of the quiet case fires.
    chosen = settings(**{"monitoring.alerts.certificate_days": 60})
    name, inputs, _ = CASES[13]
    assert name == "JupyterHubCertificateExpiring"
    expected = [alert(PROBE, "critical", "invoke hub.cert-status --env lab")]
    path = write_tests(tmp_path, chosen, [(name, inputs, [("20m", expected)])])
    result = promtool(promtool_bin, "test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_rule_can_be_turned_off_by_name() -> None:
    chosen = settings(**{"monitoring.alerts.disabled": ["GpuXidError", "PodsPendingTooLong"]})
    names = [rule.name for rule in alerts.chosen(chosen, ENV)]
    assert "GpuXidError" not in names and "PodsPendingTooLong" not in names
    assert len(names) == 11


def test_rules_without_their_metrics_are_left_out() -> None:
    plain = settings(
        **{
            "hub.profiles": [
                {"name": "default", "display_name": "Default", "default": True},
            ],
            "cluster.gpu.enabled": False,
            "monitoring.blackbox.enabled": False,
        }
    )
    names = {rule.name for rule in alerts.chosen(plain, ENV)}
    assert not names & {
        "GpuXidError",
        "GpuDoubleBitEccErrors",
        "JupyterHubUnreachable",
        "JupyterHubCertificateExpiring",
    }
    assert alerts.chosen(settings(**{"monitoring.alerts.enabled": False}), ENV) == []


@pytest.mark.parametrize("rule", alerts.catalogue(settings(), ENV), ids=lambda r: r.name)
def test_every_runbook_names_an_existing_task(rule: alerts.Rule) -> None:
    from tasks import ns

    task = rule.runbook.split()[1]
    assert rule.runbook.startswith("invoke ") and "--env lab" in rule.runbook
    assert task in ns.task_names, f"{rule.name}: no task {task}"
