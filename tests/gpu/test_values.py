"""helm_values/gpu-operator.yaml.j2 against the gpu-operator v26.7.0 chart defaults."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from scripts.core.settings import Settings
from scripts.core.templates import placeholder_secrets, render
from tests.gpu.conftest import EXAMPLE, set_path
from tests.support.contract import GPU_OPERATOR, chart_defaults, merged, unknown_paths

# dcgmExporter.config is only described in comments of values.yaml (v26.7.0, "DCGM Exporter
# configuration ... name ... create ... data"); templates/dcgm_exporter_config.yaml reads it.
FREE_FORM = ("dcgmExporter.config",)
COMBINATIONS = list(itertools.product([True, False], [True, False], [True, False]))


def values(*, priority: bool, custom: bool, monitoring: bool) -> dict[str, Any]:
    config = copy.deepcopy(EXAMPLE)
    set_path(config, "gpu.priority_class", priority)
    set_path(config, "gpu.driver.custom", custom)
    set_path(config, "monitoring.enabled", monitoring)
    rendered: dict[str, Any] = render(
        "gpu-operator", Settings.model_validate(config), placeholder_secrets()
    ).values
    return rendered


@pytest.mark.parametrize(("priority", "custom", "monitoring"), COMBINATIONS)
def test_every_key_exists_in_the_chart(priority: bool, custom: bool, monitoring: bool) -> None:
    ours = values(priority=priority, custom=custom, monitoring=monitoring)
    assert unknown_paths(ours, chart_defaults(GPU_OPERATOR), free_form=FREE_FORM) == []


def test_key_check_catches_a_misspelt_key() -> None:
    ours = values(priority=True, custom=True, monitoring=True)
    ours["node-feature-discovery"]["priorityClass"] = "x"
    assert unknown_paths(ours, chart_defaults(GPU_OPERATOR), free_form=FREE_FORM) == [
        "node-feature-discovery.priorityClass"
    ]


def test_dcgm_exporter_reads_our_metrics_list() -> None:
    config = values(priority=False, custom=False, monitoring=True)["dcgmExporter"]["config"]
    assert config["name"] == "jhub-dcgm-metrics"
    assert config["create"] is True
    lines = [line for line in config["data"].splitlines() if not line.startswith("#")]
    # The alert rules need the double-bit ECC counter, off in dcgm-exporter's own lists.
    assert "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL, counter, Double-bit volatile ECC errors." in lines
    assert "DCGM_FI_DEV_XID_ERRORS, gauge, The last XID error seen." in lines


def test_workaround_replaces_every_system_node_critical() -> None:
    upstream = chart_defaults(GPU_OPERATOR)
    effective = merged(upstream, values(priority=True, custom=False, monitoring=True))
    assert "system-node-critical" in repr(upstream)
    assert "system-node-critical" not in repr(effective)
    assert effective["operator"]["priorityClassName"] == "nvidia-priority-class"

    untouched = merged(upstream, values(priority=False, custom=False, monitoring=True))
    assert untouched["daemonsets"]["priorityClassName"] == "system-node-critical"


def test_custom_driver_points_at_our_registry_otherwise_nvidias() -> None:
    upstream = chart_defaults(GPU_OPERATOR)
    ours = merged(upstream, values(priority=False, custom=True, monitoring=True))["driver"]
    assert (ours["repository"], ours["image"], ours["version"]) == (
        "harbor.example.org/nvidia",
        "nvidia-driver",
        "580.95.05",
    )
    theirs = merged(upstream, values(priority=False, custom=False, monitoring=True))["driver"]
    assert (theirs["repository"], theirs["image"]) == ("nvcr.io/nvidia", "driver")
    assert theirs["enabled"] is True


def test_dcgm_service_monitor_follows_monitoring() -> None:
    with_prometheus = values(priority=False, custom=False, monitoring=True)["dcgmExporter"]
    assert with_prometheus["serviceMonitor"] == {
        "enabled": True,
        "additionalLabels": {"release": "prometheus"},
    }
    without = values(priority=False, custom=False, monitoring=False)["dcgmExporter"]
    assert without["serviceMonitor"] == {"enabled": False}
