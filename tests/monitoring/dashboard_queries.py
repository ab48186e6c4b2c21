"""Reading the committed dashboards as Grafana would, and their PromQL as Prometheus would."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "dashboards"
NAMES = ("jupyterhub", "gpus", "cluster")
RATE_INTERVAL = "$__rate_interval"
# An unusual window, so a range that did not come from $__rate_interval stands out.
RATE_WINDOW = "2m7s"
VARIABLE = re.compile(r"\$\{?([A-Za-z_]\w*)\}?")

# Every dashboard variable with its "All" value, and with one concrete choice each.
ALL_VALUES = {"hub_namespace": "jhub", "user": ".*", "gpu_node": ".*", "node": ".+"}
CONCRETE_VALUES = {
    "hub_namespace": "jhub",
    "user": "alice",
    # This node's dcgm-exporter spells the label `hostname` (newer releases).
    "gpu_node": "jhub-example-gpu-worker-1",
    "node": "jhub-example-default-worker-0",
}


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: dict[str, Any]
    ref: str
    expr: str

    @property
    def label(self) -> str:
        return f"{self.dashboard}: {self.panel['title']} [{self.ref}]"


def load(name: str, directory: Path = DASHBOARD_DIR) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
    return data


def dashboards() -> dict[str, dict[str, Any]]:
    return {name: load(name) for name in NAMES}


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that shows data, rows' collapsed children included."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def panel_queries() -> list[PanelQuery]:
    return [
        PanelQuery(name, panel, target.get("refId", "?"), target["expr"])
        for name, dashboard in dashboards().items()
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def variables(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = dashboard.get("templating", {}).get("list", [])
    return found


_LABEL_VALUES = re.compile(r"^label_values\((?P<expr>.*),\s*(?P<label>\w+)\)$", re.S)
_QUERY_RESULT = re.compile(r"^query_result\((?P<expr>.*)\)$", re.S)


def variable_promql(query: str) -> tuple[str, str | None]:
    """The PromQL inside a Grafana variable query, and the label it lists (if any)."""
    if match := _LABEL_VALUES.match(query):
        return match["expr"], match["label"]
    if match := _QUERY_RESULT.match(query):
        return match["expr"], None
    raise AssertionError(f"not a label_values() or query_result() variable: {query!r}")


def used_variables(expr: str) -> set[str]:
    # label_replace's "$1" is a capture group, not a variable.
    return {name for name in VARIABLE.findall(expr) if not name.isdigit()}


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace Grafana variables the way Grafana does before sending the query."""
    every = {**values, "__rate_interval": RATE_WINDOW}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.isdigit():
            return match.group(0)
        if name not in every:
            raise AssertionError(f"no value for Grafana variable ${name} in {expr!r}")
        return every[name]

    return VARIABLE.sub(replace, expr)


def parse(expr: str) -> Any:
    return promql_parser.parse(expr)


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value)


def walk(ast: Any) -> list[Any]:
    nodes: list[Any] = []

    def visit(node: Any) -> bool:
        nodes.append(node)
        return True

    promql_parser.walk(ast, visit)
    return nodes


def selectors(ast: Any) -> list[Selector]:
    found = []
    for node in walk(ast):
        if isinstance(node, promql_parser.VectorSelector):
            matchers = tuple(
                (m.name, str(m.op).rsplit(".", 1)[-1], m.value) for m in node.matchers.matchers
            )
            found.append(Selector(node.name or "", matchers))
    return found


def metric_names(ast: Any) -> set[str]:
    return {selector.metric for selector in selectors(ast)}


def ranges(ast: Any) -> list[str]:
    """Every range window (of range selectors and subqueries), as Prometheus prints it."""
    found = []
    for node in walk(ast):
        if isinstance(node, promql_parser.MatrixSelector):
            found.append(promql_parser.display_duration(node.range))
        if isinstance(node, promql_parser.SubqueryExpr):
            # The stubs allow None, but PromQL's grammar requires a subquery's range
            # (`[range:step]`, only the step may be left out).
            assert node.range is not None
            found.append(promql_parser.display_duration(node.range))
    return found


def calls(ast: Any) -> list[str]:
    return [node.func.name for node in walk(ast) if isinstance(node, promql_parser.Call)]


def dcgm_counters(csv_text: str) -> set[str]:
    """Fields a dcgm-exporter CSV enables as metrics (labels and comments left out)."""
    names = set()
    for raw in csv_text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        field, kind, *_ = (part.strip() for part in line.split(","))
        if kind in ("gauge", "counter"):
            names.add(field)
    return names


_TYPE_LINE = re.compile(r"^# TYPE (?P<name>\S+) (?P<kind>\S+)$")
_SUFFIXES = {
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
    "counter": ("_total", "_created"),
}


def exposed_names(exposition: str) -> set[str]:
    """Sample names a Prometheus text exposition can produce, from its TYPE lines."""
    names = set()
    for line in exposition.splitlines():
        if match := _TYPE_LINE.match(line):
            family, kind = match["name"], match["kind"]
            names.add(family)
            names.update(family + suffix for suffix in _SUFFIXES.get(kind, ()))
    return names


def exposed_labels(exposition: str) -> dict[str, set[str]]:
    """Label names seen on each sample name in an exposition."""
    found: dict[str, set[str]] = {}
    for line in exposition.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition("{")
        labels = set(re.findall(r'(\w+)="', rest.partition("}")[0])) if rest else set()
        found.setdefault(name.split(" ")[0], set()).update(labels)
    return found
