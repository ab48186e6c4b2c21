"""Every metric and label an alert rule reads is one an exporter of the stack emits.

The catalogue (metric_catalogue.py) cites each exporter's source; DCGM fields come from
the metrics list we give dcgm-exporter (helm_values/dcgm-metrics.csv), itself checked
against dcgm-exporter's shipped lists; jupyterhub_* names against a live hub in
test_against_prometheus.py, and probe_* and Prometheus's own names against live
exporters in test_blackbox_probe.py.
"""

from __future__ import annotations

import json

import pytest

from scripts.core.paths import ROOT
from scripts.monitoring import alerts
from tests.monitoring import dashboard_queries as q
from tests.monitoring.metric_catalogue import (
    DCGM_LABELS,
    JUPYTERHUB_RULE_METRICS,
    RULE_EXPORTERS,
    exporter_of,
)
from tests.monitoring.rule_settings import ENV, settings

RULES = alerts.catalogue(settings(), ENV)
OUR_DCGM_LIST = ROOT / "helm_values" / "dcgm-metrics.csv"


# Written by tests/fixtures/generate.py from dcgm-exporter's etc/*.csv.
DCGM_DATA = ROOT / "tests" / "fixtures" / "upstream" / "dcgm-exporter.json"


def upstream_lists() -> dict[str, dict[str, set[str]]]:
    """Per shipped CSV: the fields it enables and the ones it names but comments out."""
    data = json.loads(DCGM_DATA.read_text(encoding="utf-8"))
    return {
        name: {
            "enabled": {f["name"] for f in fields if f["type"] in ("gauge", "counter")},
            "disabled": set(data["disabled"][name]),
        }
        for name, fields in data["files"].items()
    }


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_every_rule_metric_comes_from_an_exporter(rule: alerts.Rule) -> None:
    ours = q.dcgm_counters(OUR_DCGM_LIST.read_text())
    for selector in q.selectors(q.parse(rule.expr)):
        if selector.metric.startswith("jupyterhub_"):
            continue
        if selector.metric.startswith("DCGM_"):
            assert selector.metric in ours, f"{selector.metric} is not in {OUR_DCGM_LIST.name}"
            known = DCGM_LABELS
        else:
            exporter = exporter_of(selector.metric, RULE_EXPORTERS)
            assert exporter is not None, f"{rule.name}: no exporter emits {selector.metric}"
            known = exporter.metrics[selector.metric] | exporter.target_labels
        unknown = {label for label, _, _ in selector.matchers} - known
        assert not unknown, f"{selector.metric} has no label {sorted(unknown)}"


def test_the_check_catches_an_unknown_metric() -> None:
    assert exporter_of("kube_node_status_ready", RULE_EXPORTERS) is None
    assert exporter_of("probe_ssl_earliest_cert_expiry", RULE_EXPORTERS) is not None


def test_our_dcgm_list_keeps_every_upstream_field_and_adds_only_real_ones() -> None:
    ours = q.dcgm_counters(OUR_DCGM_LIST.read_text())
    lists = upstream_lists()
    # The GPU operator's default is dcp-metrics-included.csv; the dashboards rely on it.
    assert lists["dcp-metrics-included.csv"]["enabled"] <= ours
    known = set().union(*(v["enabled"] | v["disabled"] for v in lists.values()))
    assert ours <= known, f"not a dcgm-exporter field: {sorted(ours - known)}"
    assert {"DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "DCGM_FI_DEV_XID_ERRORS"} <= ours


def test_jupyterhub_metrics_the_rules_read() -> None:
    used = {
        s.metric
        for rule in RULES
        for s in q.selectors(q.parse(rule.expr))
        if s.metric.startswith("jupyterhub_")
    }
    assert used == JUPYTERHUB_RULE_METRICS
