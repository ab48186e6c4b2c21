"""The settings the alert-rule tests render rules for (shared by test_alert_rules and
test_alert_metrics, which must not import each other)."""

from __future__ import annotations

import copy
from typing import Any

from scripts.core.settings import Settings
from tests.monitoring.conftest import EXAMPLE, set_path

# The environment name the rules are rendered for (it lands in labels and runbooks).
ENV = "lab"


def settings(**changes: Any) -> Settings:
    """config/example.yaml's settings with `dotted.key=value` changes."""
    config = copy.deepcopy(EXAMPLE)
    for dotted, value in changes.items():
        set_path(config, dotted, value)
    return Settings.model_validate(config)
