"""Alert rules: one PrometheusRule object that `monitoring.deploy` applies after the release.

Every rule names, in its `runbook` annotation, the task that diagnoses or fixes what it
reports, with the environment filled in. Thresholds come from `monitoring.alerts`; a rule
listed in `monitoring.alerts.disabled` is left out. The object lives beside Prometheus and
is selected because the values set `ruleSelectorNilUsesHelmValues: false`.

Metric sources (the catalogue in tests/monitoring/metric_catalogue.py cites each):
JupyterHub's /hub/metrics, kube-state-metrics, the kubelet's volume stats, Prometheus's
own metrics, the blackbox exporter's probe_* series and dcgm-exporter's DCGM fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core import kube
from ..core.changes import Changes
from ..core.errors import BadInput, Problem
from ..core.manifests import MANAGED_BY, Manifest
from ..core.settings import Settings

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

GROUP, VERSION, PLURAL = "monitoring.coreos.com", "v1", "prometheusrules"
RULE_OBJECT = "jhub-alerts"
# Every rule carries this label, so Alertmanager routes ours apart from the chart's own.
ORIGIN = {"origin": "jhub-openstack"}
# The target name the probe gives the hub (probe.py); the blackbox chart copies it into
# a `target` label on every probe_* series.
PROBE_TARGET = "jupyterhub"
HUB_JOB = "hub"  # the operator names the job after the Service z2jh calls `hub`
PROXY_DEPLOYMENT = "proxy"


@dataclass(frozen=True)
class Rule:
    name: str
    expr: str
    duration: str  # Prometheus `for`
    severity: str  # critical | warning
    summary: str
    description: str
    runbook: str

    def as_rule(self) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.duration,
            "labels": {"severity": self.severity, **ORIGIN},
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook": self.runbook,
            },
        }


def _ratio(value: float) -> str:
    return f"{value:g}"


def catalogue(settings: Settings, env: str) -> list[Rule]:
    """Every rule this tool ships, thresholds filled in, in a fixed order."""
    # deploy imports this module; the import waits until the rules are built.
    from .deploy import retention_bytes

    a = settings.monitoring.alerts
    ns = settings.hub.namespace
    hub = f'namespace="{ns}"'
    invoke = f"--env {env}"
    retention = retention_bytes(settings.monitoring.retention_size)
    spawns = f"jupyterhub_server_spawn_duration_seconds_count{{{hub}"
    requests = f"jupyterhub_request_duration_seconds_count{{{hub}"
    return [
        Rule(
            "JupyterHubDown",
            f'up{{job="{HUB_JOB}", {hub}}} == 0 or absent(up{{job="{HUB_JOB}", {hub}}})',
            "5m",
            "critical",
            "JupyterHub does not answer Prometheus",
            f"The hub in namespace {ns} has not served /hub/metrics for 5 minutes.",
            f"invoke hub.status {invoke}",
        ),
        Rule(
            "JupyterHubApiErrors",
            f'sum(rate({requests}, code=~"5.."}}[5m])) / sum(rate({requests}}}[5m])) '
            f"> {_ratio(a.api_error_ratio)}",
            "10m",
            "warning",
            "JupyterHub answers with server errors",
            f"More than {a.api_error_ratio:.0%} of the hub's requests end in HTTP 5xx.",
            f"invoke hub.health {invoke}",
        ),
        Rule(
            "JupyterHubProxyDown",
            f'kube_deployment_status_replicas_available{{{hub}, deployment="{PROXY_DEPLOYMENT}"}}'
            " < 1",
            "5m",
            "critical",
            "The hub's proxy has no available pod",
            f"Deployment {ns}/{PROXY_DEPLOYMENT} has no available replica; nobody reaches the hub.",
            f"invoke hub.status {invoke}",
        ),
        Rule(
            "JupyterHubUnreachable",
            f'probe_success{{target="{PROBE_TARGET}"}} == 0',
            "5m",
            "critical",
            "The hub's public URL fails from the outside",
            "The blackbox exporter cannot fetch /hub/api/health over HTTPS "
            "(DNS, load balancer, certificate or hub).",
            f"invoke lb.doctor {invoke}",
        ),
        Rule(
            "JupyterHubSpawnsFailing",
            f'sum(increase({spawns}, status="failure"}}[15m])) >= {a.spawn_failures}',
            "0m",
            "warning",
            "User servers fail to start",
            f"At least {a.spawn_failures} server starts failed in the last 15 minutes.",
            f"invoke hub.health {invoke}",
        ),
        Rule(
            "JupyterHubSpawnsSlow",
            "histogram_quantile(0.9, sum by (le) (rate("
            f'jupyterhub_server_spawn_duration_seconds_bucket{{{hub}, status="success"}}[30m])))'
            f" > {a.spawn_seconds}",
            "10m",
            "warning",
            "User servers are slow to start",
            f"One start in ten takes longer than {a.spawn_seconds} s (the autoscaler may be "
            "adding nodes, or images are slow to pull).",
            f"invoke hub.capacity {invoke}",
        ),
        Rule(
            "JupyterHubCertificateExpiring",
            f'(probe_ssl_earliest_cert_expiry{{target="{PROBE_TARGET}"}} - time()) / 86400'
            f" < {a.certificate_days}",
            "15m",
            "critical",
            "The hub's certificate expires soon",
            f"The certificate served for the hub expires within {a.certificate_days} days; "
            "Let's Encrypt renewals normally happen 30 days ahead.",
            f"invoke hub.cert-status {invoke}",
        ),
        Rule(
            "UserVolumeAlmostFull",
            f'kubelet_volume_stats_used_bytes{{{hub}, persistentvolumeclaim=~"claim-.+"}}'
            f' / kubelet_volume_stats_capacity_bytes{{{hub}, persistentvolumeclaim=~"claim-.+"}}'
            f" > {_ratio(a.volume_full_ratio)}",
            "15m",
            "warning",
            "A user's home volume is nearly full",
            f"Claim {{{{ $labels.persistentvolumeclaim }}}} is over {a.volume_full_ratio:.0%} "
            "full; the user's server may fail to save or start.",
            f"invoke hub.status {invoke}",
        ),
        Rule(
            "KubernetesNodeNotReady",
            'kube_node_status_condition{condition="Ready", status="true"} == 0',
            f"{a.node_not_ready_minutes}m",
            "critical",
            "A cluster node is not Ready",
            f"Node {{{{ $labels.node }}}} has not been Ready for {a.node_not_ready_minutes} "
            "minutes; its pods are not served.",
            f"invoke cluster.status {invoke}",
        ),
        Rule(
            "PrometheusStorageNearRetention",
            f"prometheus_tsdb_storage_blocks_bytes / {retention} "
            f"> {_ratio(a.prometheus_storage_ratio)}",
            "30m",
            "warning",
            "Prometheus is close to its retention size",
            f"Stored blocks exceed {a.prometheus_storage_ratio:.0%} of monitoring.retention_size "
            f"({settings.monitoring.retention_size}); history will be shorter than "
            f"monitoring.retention ({settings.monitoring.retention}).",
            f"invoke monitoring.deploy {invoke} (after raising monitoring.storage_size and "
            "monitoring.retention_size)",
        ),
        Rule(
            "PodsPendingTooLong",
            'kube_pod_status_phase{phase="Pending"} == 1 unless on (namespace, pod) '
            'kube_pod_labels{label_component="user-placeholder"}',
            f"{a.pending_minutes}m",
            "warning",
            "Pods wait longer than the autoscaler should need",
            f"Pod {{{{ $labels.namespace }}}}/{{{{ $labels.pod }}}} has been Pending for "
            f"{a.pending_minutes} minutes.",
            f"invoke cluster.autoscaler {invoke}",
        ),
        Rule(
            "GpuXidError",
            # The field holds the last XID seen, so a new error is a change to non-zero.
            "DCGM_FI_DEV_XID_ERRORS > 0 and changes(DCGM_FI_DEV_XID_ERRORS[10m]) > 0",
            "0m",
            "warning",
            "A GPU reported an XID error",
            "GPU {{ $labels.gpu }} reported XID {{ $value }}; see NVIDIA's XID "
            "catalogue (48, 63, 64, 74, 79 and 95 mean the GPU needs attention).",
            f"invoke gpu.status {invoke}",
        ),
        Rule(
            "GpuDoubleBitEccErrors",
            "increase(DCGM_FI_DEV_ECC_DBE_VOL_TOTAL[10m]) > 0",
            "0m",
            "critical",
            "A GPU reported uncorrectable (double-bit) ECC errors",
            "GPU {{ $labels.gpu }} reported double-bit ECC errors: its results may be wrong "
            "until the GPU is reset.",
            f"invoke gpu.status {invoke}",
        ),
    ]


def check(settings: Settings) -> None:
    """An unknown name in the disabled list is a typo that would silence nothing."""
    known = {rule.name for rule in catalogue(settings, "ENV")}
    unknown = [name for name in settings.monitoring.alerts.disabled if name not in known]
    if unknown:
        raise BadInput(
            Problem(
                "monitoring.alerts.disabled",
                f"unknown rule {', '.join(unknown)}; allowed are {', '.join(sorted(known))}",
            )
        )


PROBE_RULES = ("JupyterHubUnreachable", "JupyterHubCertificateExpiring")
GPU_RULES = ("GpuXidError", "GpuDoubleBitEccErrors")


def probed(settings: Settings) -> bool:
    """Whether the blackbox exporter watches the hub (it needs a domain to probe)."""
    return settings.monitoring.blackbox.enabled and settings.hub.domain is not None


def applicable(settings: Settings) -> set[str]:
    """Rules whose metrics this environment can have at all."""
    left_out: set[str] = set()
    if not probed(settings):
        left_out.update(PROBE_RULES)
    elif settings.hub.https.mode == "off":
        left_out.add("JupyterHubCertificateExpiring")
    if not settings.gpu_enabled:
        left_out.update(GPU_RULES)
    return {rule.name for rule in catalogue(settings, "ENV")} - left_out


def chosen(settings: Settings, env: str) -> list[Rule]:
    """The rules to deploy: none when alerts are off, else the applicable ones not disabled."""
    alerts = settings.monitoring.alerts
    if not alerts.enabled:
        return []
    keep = applicable(settings) - set(alerts.disabled)
    return [rule for rule in catalogue(settings, env) if rule.name in keep]


def rule_groups(settings: Settings, env: str) -> list[dict[str, Any]]:
    return [{"name": "jhub-openstack", "rules": [rule.as_rule() for rule in chosen(settings, env)]}]


def manifest(settings: Settings, env: str) -> Manifest:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "PrometheusRule",
        "metadata": {
            "name": RULE_OBJECT,
            "namespace": settings.monitoring.namespace,
            "labels": dict(MANAGED_BY),
        },
        "spec": {"groups": rule_groups(settings, env)},
    }


def ensure(api: ApiClient, wanted: Manifest, changes: Changes) -> kube.Outcome:
    """Create the PrometheusRule, or replace its spec when it differs; never touch others'.

    A rule object is a custom resource, outside core.kube's typed kinds; a PUT with the
    live resourceVersion replaces the whole spec, so a removed rule really goes away.
    """
    from kubernetes import client

    custom = client.CustomObjectsApi(api)
    meta = wanted["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    label = f"PrometheusRule {namespace}/{name}"
    live: dict[str, Any] | None = kube.read_or_none(
        f"read {label}",
        lambda: custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name),
    )
    if live is None:
        changes.make(
            f"create {label}",
            lambda: kube.call(
                f"create {label}",
                kube.create_once(
                    lambda: custom.create_namespaced_custom_object(
                        GROUP, VERSION, namespace, PLURAL, wanted
                    )
                ),
            ),
        )
        return "created"
    labels = live.get("metadata", {}).get("labels") or {}
    same_labels = all(labels.get(k) == v for k, v in meta.get("labels", {}).items())
    if live.get("spec") == wanted["spec"] and same_labels:
        return "unchanged"
    body = {
        **wanted,
        "metadata": {
            **meta,
            "labels": {**labels, **meta.get("labels", {})},
            "resourceVersion": live["metadata"]["resourceVersion"],
        },
    }
    changes.make(
        f"update {label} (spec)",
        lambda: kube.call(
            f"update {label}",
            lambda: custom.replace_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, body
            ),
        ),
    )
    return "updated"
