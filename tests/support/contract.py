"""Checks of rendered values against the pinned charts' facts in tests/fixtures/upstream/.

The data (value key paths with types and defaults, z2jh's validating schema) is written
by tests/fixtures/generate.py from the charts themselves and committed, so these checks
run in any clone.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

UPSTREAM = Path(__file__).resolve().parents[1] / "fixtures" / "upstream"

# Chart names as in tests/fixtures/upstream/<name>.json; each file holds its version.
JUPYTERHUB = "jupyterhub"
KUBE_PROMETHEUS_STACK = "kube-prometheus-stack"
GRAFANA = "grafana"
GPU_OPERATOR = "gpu-operator"


@cache
def chart_data(chart: str) -> dict[str, Any]:
    """The committed facts of one chart: chart, version, repository, source, values, schema."""
    data = json.loads((UPSTREAM / f"{chart}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def chart_defaults(chart: str) -> dict[str, Any]:
    """The chart's values.yaml as Helm reads it, rebuilt from its key paths and defaults."""
    tree: dict[str, Any] = {}
    for fact in chart_data(chart)["values"]:
        *parents, last = fact["path"]
        node = tree
        for key in parents:
            node = node.setdefault(key, {})
        # A copy: a test may change what it gets without touching the next test's.
        node[last] = json.loads(json.dumps(fact["default"]))
    return tree


def chart_schema(chart: str) -> dict[str, Any]:
    schema = chart_data(chart)["schema"]
    assert isinstance(schema, dict)
    return schema


def merged(defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """What Helm hands the chart: our values deep-merged over its defaults."""
    out = dict(defaults)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(defaults.get(key), dict):
            out[key] = merged(defaults[key], value)
        else:
            out[key] = value
    return out


def unknown_paths(
    ours: dict[str, Any],
    upstream: dict[str, Any],
    *,
    free_form: tuple[str, ...] = (),
    prefix: str = "",
) -> list[str]:
    """Key paths we set that the chart's values.yaml does not have.

    Below an upstream empty map or a list (podMetadata: {}, additionalServiceMonitors: [])
    any content is the user's to define, as it is below a path named in free_form.
    """
    missing = []
    for key, value in ours.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if path in free_form:
            continue
        if key not in upstream:
            missing.append(path)
            continue
        theirs = upstream[key]
        if isinstance(value, dict) and isinstance(theirs, dict) and theirs:
            missing += unknown_paths(value, theirs, free_form=free_form, prefix=path)
    return missing
