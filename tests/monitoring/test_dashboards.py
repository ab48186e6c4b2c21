"""The committed dashboards: fresh, complete, and speaking only real PromQL about real metrics.

Live checks (every query returns data from a real Prometheus, JupyterHub names against a
live hub) are in test_against_prometheus.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scripts.monitoring import dashboards as shipped
from tests.monitoring import dashboard_queries as q
from tests.monitoring.metric_catalogue import DCGM_LABELS, exporter_of

# Written by tests/fixtures/generate.py from dcgm-exporter's etc/*.csv.
DCGM_DATA = Path(__file__).resolve().parents[1] / "fixtures" / "upstream" / "dcgm-exporter.json"
QUERIES = q.panel_queries()
ALL_PANELS = [(name, p) for name, d in q.dashboards().items() for p in q.panels(d)]


def panel_id(item: tuple[str, dict[str, Any]]) -> str:
    return f"{item[0]}:{item[1]['title']}"


def dcgm_names() -> set[str]:
    """Counters enabled in both of dcgm-exporter's shipped CSVs (either may be in use)."""
    data = json.loads(DCGM_DATA.read_text(encoding="utf-8"))
    sets = [
        {field["name"] for field in fields if field["type"] in ("gauge", "counter")}
        for fields in data["files"].values()
    ]
    assert len(sets) >= 2, f"expected both dcgm-exporter CSVs in {DCGM_DATA}"
    return set.intersection(*sets)


# ------------------------------------------------------------------ freshness


def test_committed_dashboards_equal_a_fresh_build() -> None:
    fresh = shipped.build_all()
    assert sorted(fresh) == sorted(q.NAMES)
    for name, text in fresh.items():
        committed = (q.DASHBOARD_DIR / f"{name}.json").read_text(encoding="utf-8")
        assert committed == text, (
            f"dashboards/{name}.json is stale: invoke monitoring.dashboards --build"
        )


def test_a_stale_file_is_found_and_rewritten(tmp_path: Path) -> None:
    first = shipped.write(tmp_path)
    assert all(r.changed for r in first)
    stale = tmp_path / "gpus.json"
    stale.write_text(stale.read_text().replace('"GPU temperature"', '"GPU heat"'))
    checked = shipped.write(tmp_path, dry_run=True)
    assert [r.name for r in checked if r.changed] == ["gpus"]
    assert '"GPU heat"' in stale.read_text()  # a dry run leaves it alone
    shipped.write(tmp_path)
    assert '"GPU heat"' not in stale.read_text()
    assert not any(r.changed for r in shipped.write(tmp_path, dry_run=True))


# ------------------------------------------------------------------ panels


@pytest.mark.parametrize("item", ALL_PANELS, ids=panel_id)
def test_every_panel_has_unit_description_and_the_datasource_variable(
    item: tuple[str, dict[str, Any]],
) -> None:
    _, panel = item
    assert panel["fieldConfig"]["defaults"].get("unit"), "no unit"
    assert len(panel.get("description", "")) > 20, "no useful description"
    assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert panel["targets"], "no query"
    for target in panel["targets"]:
        assert target["datasource"] == panel["datasource"]


def test_every_dashboard_offers_the_datasource_variable_first() -> None:
    for name, dashboard in q.dashboards().items():
        first = q.variables(dashboard)[0]
        assert (first["name"], first["type"], first["query"]) == (
            "datasource",
            "datasource",
            "prometheus",
        ), name


def test_panel_ids_are_unique_and_grid_fits() -> None:
    for name, dashboard in q.dashboards().items():
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{name}: {panel['title']} overflows"


def test_uids_are_stable_and_distinct() -> None:
    uids = [d["uid"] for d in q.dashboards().values()]
    assert uids == ["jhub-jupyterhub", "jhub-gpus", "jhub-cluster"]


# ------------------------------------------------------------------ PromQL


@pytest.mark.parametrize("values", [q.ALL_VALUES, q.CONCRETE_VALUES], ids=["all", "concrete"])
@pytest.mark.parametrize("query", QUERIES, ids=lambda pq: pq.label)
def test_every_expression_parses_after_substitution(
    query: q.PanelQuery, values: dict[str, str]
) -> None:
    q.parse(q.substitute(query.expr, values))


def test_variables_used_are_defined() -> None:
    for name, dashboard in q.dashboards().items():
        defined = {v["name"] for v in q.variables(dashboard)} | {"__rate_interval"}
        for query in [pq for pq in QUERIES if pq.dashboard == name]:
            assert q.used_variables(query.expr) <= defined, query.label


def test_variable_queries_are_promql_over_known_labels() -> None:
    for dashboard in q.dashboards().values():
        for variable in q.variables(dashboard):
            if variable["type"] != "query":
                continue
            expr, label = q.variable_promql(variable["query"])
            ast = q.parse(q.substitute(expr, q.ALL_VALUES))
            for metric in q.metric_names(ast):
                exporter = exporter_of(metric)
                known = exporter.metrics[metric] if exporter else set()
                assert label is None or label in known or metric.startswith("jupyterhub_")


def test_substitution_refuses_an_unknown_variable() -> None:
    with pytest.raises(AssertionError, match=r"\$nope"):
        q.substitute('up{job="$nope"}', q.ALL_VALUES)


def test_the_parser_rejects_broken_promql() -> None:
    with pytest.raises(ValueError):
        q.parse('sum(rate(up{job="x"}[2m])')


@pytest.mark.parametrize("query", QUERIES, ids=lambda pq: pq.label)
def test_every_rate_uses_the_rate_interval(query: q.PanelQuery) -> None:
    ast = q.parse(q.substitute(query.expr, q.ALL_VALUES))
    assert set(q.ranges(ast)) <= {q.RATE_WINDOW}, "a range not taken from $__rate_interval"
    if {"rate", "irate", "increase"} & set(q.calls(ast)):
        assert q.RATE_INTERVAL in query.expr


# ------------------------------------------------------------------ metric names


def test_dcgm_names_come_from_the_exporter_csv() -> None:
    enabled = dcgm_names()
    used = {
        metric
        for pq in QUERIES
        for metric in q.metric_names(q.parse(q.substitute(pq.expr, q.ALL_VALUES)))
        if metric.startswith("DCGM_")
    }
    assert {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"} <= used
    assert used <= enabled, f"not enabled in dcgm-exporter's CSVs: {sorted(used - enabled)}"


@pytest.mark.parametrize("query", QUERIES, ids=lambda pq: pq.label)
def test_every_metric_and_label_is_emitted_by_a_known_exporter(query: q.PanelQuery) -> None:
    """Cluster exporters against the catalogue; DCGM labels against dcgm-exporter's.

    jupyterhub_* names and labels are checked against a live hub in
    test_against_prometheus.py.
    """
    for selector in q.selectors(q.parse(q.substitute(query.expr, q.ALL_VALUES))):
        if selector.metric.startswith("jupyterhub_"):
            continue
        if selector.metric.startswith("DCGM_"):
            known = DCGM_LABELS
        else:
            exporter = exporter_of(selector.metric)
            assert exporter is not None, f"{selector.metric}: no exporter emits it"
            known = exporter.metrics[selector.metric] | exporter.target_labels
        unknown = {label for label, _, _ in selector.matchers} - known
        assert not unknown, f"{selector.metric} has no label {sorted(unknown)}"


# ------------------------------------------------------------------ content rules


def by_title(dashboard: str, title: str) -> dict[str, Any]:
    found = [p for p in q.panels(q.load(dashboard)) if p["title"] == title]
    assert found, f"{dashboard} has no panel {title!r}"
    return found[0]


def exprs(dashboard: str) -> list[str]:
    return [pq.expr for pq in QUERIES if pq.dashboard == dashboard]


def test_gpu_panels_accept_either_spelling_of_the_host_label() -> None:
    for expr in exprs("gpus"):
        ast = q.parse(q.substitute(expr, q.ALL_VALUES))
        dcgm = [s for s in q.selectors(ast) if s.metric.startswith("DCGM_")]
        spellings = {label for s in dcgm for label, _, _ in s.matchers}
        assert {"Hostname", "hostname"} <= spellings, expr


def test_per_user_panels_join_on_kube_pod_labels() -> None:
    per_user = [
        pq
        for pq in QUERIES
        if pq.panel["title"].endswith("per user") or "{{user}}" in json.dumps(pq.panel)
    ]
    assert len(per_user) >= 5
    for pq in per_user:
        assert "on(namespace, pod) group_left(label_hub_jupyter_org_username)" in pq.expr
        assert "kube_pod_labels{" in pq.expr and 'label_component="singleuser-server"' in pq.expr


def test_gpu_use_per_user_maps_exported_pod() -> None:
    for title in ("GPU utilisation per user", "GPU memory per user"):
        expr = by_title("gpus", title)["targets"][0]["expr"]
        assert '"pod", "$1", "exported_pod"' in expr
        assert '"namespace", "$1", "exported_namespace"' in expr


def test_design_content_is_present() -> None:
    titles = {name: {p["title"] for p in q.panels(d)} for name, d in q.dashboards().items()}
    assert {
        "Users",
        "Running servers",
        "Spawn time by outcome",
        "Spawns per minute by outcome",
        "Hub request latency",
        "CPU per user",
        "Memory per user",
        "Server age per user",
        "Users per node",
        "Free placeholders",
    } <= titles["jupyterhub"]
    assert {
        "GPU utilisation",
        "GPU memory used",
        "GPU temperature",
        "Power draw",
        "SM clock",
        "Tensor core activity",
        "GPU utilisation per user",
    } <= titles["gpus"]
    assert {
        "Nodes",
        "CPU requested / allocatable",
        "Memory requested / allocatable",
        "Pending pods",
        "Nodes by flavour",
    } <= titles["cluster"]


# ------------------------------------------------------------------ shipping


def test_configmaps_carry_the_sidecar_label_and_folder(config_dir: Path) -> None:
    from scripts.core.loading import load

    settings = load(None, require_secrets=False).settings
    maps = shipped.dashboards_configmaps(settings)
    assert [m["metadata"]["name"] for m in maps] == [
        "jhub-dashboard-jupyterhub",
        "jhub-dashboard-gpus",
        "jhub-dashboard-cluster",
    ]
    for manifest in maps:
        meta = manifest["metadata"]
        assert meta["namespace"] == "prometheus"
        assert meta["labels"]["grafana_dashboard"] == "1"
        assert meta["annotations"] == {"grafana_folder": "STFC"}
        (key, text), *_ = manifest["data"].items()
        assert json.loads(text)["uid"].startswith("jhub-")
        assert key.endswith(".json")


def test_configmaps_follow_the_configured_folder(config_dir: Path) -> None:
    from scripts.core.loading import load

    example = config_dir / "example.yaml"
    example.write_text(
        example.read_text().replace("dashboards_folder: STFC", "dashboards_folder: Ops")
    )
    settings = load(None, require_secrets=False).settings
    folders = {
        m["metadata"]["annotations"]["grafana_folder"]
        for m in shipped.dashboards_configmaps(settings)
    }
    assert folders == {"Ops"}


def test_a_missing_committed_dashboard_is_an_operation_failure(tmp_path: Path) -> None:
    from scripts.core.errors import OperationFailed

    shipped.write(tmp_path)
    (tmp_path / "cluster.json").unlink()
    with pytest.raises(OperationFailed, match=r"cluster\.json is missing") as failure:
        shipped.committed(tmp_path)
    assert "--build" in failure.value.remedy
