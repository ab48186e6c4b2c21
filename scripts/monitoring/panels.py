"""Panel and variable builders on top of grafana-foundation-sdk.

Every panel goes through `panel()`, which will not make one without a unit and
a description, and points panel and queries at the `$datasource` variable, so
a dashboard works with whichever Prometheus the Grafana instance calls its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from grafana_foundation_sdk.builders import bargauge, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions, VizLegendOptions
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
    DatasourceVariable,
    QueryVariable,
    Row,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    DataSourceRef,
    LegendDisplayMode,
    LegendPlacement,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DATASOURCE_VARIABLE = "datasource"
DATASOURCE = DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
Kind = Literal["timeseries", "stat", "table", "bargauge"]


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    """What one panel shows; `Board.add` turns it into the SDK's builder."""

    kind: Kind
    title: str
    unit: str
    description: str
    queries: Sequence[Query]
    width: int = 12
    height: int = 8


def _target(query: Query, ref: str, kind: Kind) -> prometheus.Dataquery:
    target = (
        prometheus.Dataquery()
        .ref_id(ref)
        .datasource(DATASOURCE)
        .expr(query.expr)
        .legend_format(query.legend or "__auto")
    )
    if kind == "table":
        # One row per series with its labels as columns, at the end of the range.
        target = target.instant().format(PromQueryFormat.TABLE)
    return target


def _builder(kind: Kind) -> Any:
    if kind == "timeseries":
        return (
            timeseries.Panel()
            .fill_opacity(10)
            .legend(
                VizLegendOptions()
                .show_legend(True)
                .display_mode(LegendDisplayMode.TABLE)
                .placement(LegendPlacement.BOTTOM)
                .calcs(["lastNotNull", "max"])
            )
        )
    if kind == "stat":
        return stat.Panel().reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
    if kind == "bargauge":
        return bargauge.Panel().reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
    return table.Panel()


def build_panel(spec: Panel, panel_id: int) -> Any:
    if not spec.unit or not spec.description or not spec.queries:
        raise ValueError(f"panel {spec.title!r} needs a unit, a description and a query")
    builder = (
        _builder(spec.kind)
        .id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .unit(spec.unit)
        .datasource(DATASOURCE)
        .span(spec.width)
        .height(spec.height)
    )
    for index, query in enumerate(spec.queries):
        builder = builder.with_target(_target(query, chr(ord("A") + index), spec.kind))
    return builder


def datasource_variable() -> DatasourceVariable:
    return (
        DatasourceVariable(DATASOURCE_VARIABLE)
        .label("Data source")
        .type("prometheus")
        .description("The Prometheus that every panel queries.")
    )


def query_variable(
    name: str,
    label: str,
    query: str,
    *,
    description: str,
    multi: bool = True,
    all_value: str = ".*",
    regex: str = "",
) -> QueryVariable:
    variable = (
        QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(DATASOURCE)
        .query(query)
        .definition(query)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(multi)
    )
    if multi:
        variable = variable.all_value(all_value)
    if regex:
        variable = variable.regex(regex)
    return variable


class Board:
    """A dashboard under construction: rows, panels (numbered in order) and variables."""

    def __init__(self, uid: str, title: str, description: str, tags: Sequence[str]) -> None:
        self._next_id = 1
        self.dashboard = (
            Dashboard(title)
            .uid(uid)
            .description(description)
            .tags(list(tags))
            .editable()
            .tooltip(DashboardCursorSync.CROSSHAIR)
            .time("now-6h", "now")
            .refresh("1m")
            .timezone("browser")
            .with_variable(datasource_variable())
        )

    def variable(self, variable: QueryVariable) -> Board:
        self.dashboard = self.dashboard.with_variable(variable)
        return self

    def row(self, title: str) -> Board:
        self.dashboard = self.dashboard.with_row(Row(title).id(self._take_id()))
        return self

    def add(self, *panels: Panel) -> Board:
        for spec in panels:
            self.dashboard = self.dashboard.with_panel(build_panel(spec, self._take_id()))
        return self

    def _take_id(self) -> int:
        taken, self._next_id = self._next_id, self._next_id + 1
        return taken

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(json.dumps(self.dashboard.build(), cls=JSONEncoder))
        return data
