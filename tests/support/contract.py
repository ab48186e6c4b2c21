"""Checks of rendered values against upstream chart data in ../shared/fixtures/charts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import shared_path

JUPYTERHUB = ("charts", "jupyterhub-4.4.0")
KUBE_PROMETHEUS_STACK = ("charts", "kube-prometheus-stack-88.5.3")
GRAFANA = ("charts", "grafana-12.11.1")
GPU_OPERATOR = ("charts", "gpu-operator-v26.7.0")


def chart_file(chart: tuple[str, str], name: str) -> Path:
    return shared_path("fixtures", *chart, name)


def chart_defaults(chart: tuple[str, str]) -> dict[str, Any]:
    data = yaml.safe_load(chart_file(chart, "values.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def chart_schema(chart: tuple[str, str]) -> dict[str, Any]:
    data = json.loads(chart_file(chart, "values.schema.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


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
