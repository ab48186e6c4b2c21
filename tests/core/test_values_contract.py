"""Rendered values against the upstream charts' own schema and defaults.

The four reference environments cover each sign-in and certificate mode and
the GPU and desktop profiles; every one must validate against the z2jh 4.4.0
schema after Helm's merge with the chart defaults.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from scripts.core import manifests
from scripts.core.settings import Settings
from scripts.core.templates import placeholder_secrets, releases, render
from tests.conftest import ROOT
from tests.support.contract import (
    GPU_OPERATOR,
    GRAFANA,
    JUPYTERHUB,
    KUBE_PROMETHEUS_STACK,
    chart_defaults,
    chart_schema,
    merged,
    unknown_paths,
)

EXAMPLE: dict[str, Any] = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())


def oauth_letsencrypt() -> dict[str, Any]:
    config = copy.deepcopy(EXAMPLE)
    config["cluster"]["gpu"]["enabled"] = False
    config["hub"]["profiles"] = [p for p in config["hub"]["profiles"] if p["name"] != "gpu"]
    config["hub"]["https"]["staging"] = True
    return config


def native_secret_certificate() -> dict[str, Any]:
    config = oauth_letsencrypt()
    config["cluster"]["driver"] = "heat"
    config["hub"]["auth"] = {
        "type": "native",
        "native": {"admin_users": ["alice", "bob"], "allowed_users": ["carol"]},
    }
    config["hub"]["https"] = {"mode": "secret", "secret_name": "hub-tls"}
    config["hub"]["floating_ip"] = None
    config["hub"]["placeholders"] = {"enabled": False}
    return config


def gpu_desktop() -> dict[str, Any]:
    config = copy.deepcopy(EXAMPLE)
    config["cluster"]["driver"] = "heat"
    for profile in config["hub"]["profiles"]:
        profile["enabled"] = True
    config["hub"]["sudo"] = True
    config["gpu"]["driver"]["custom"] = True
    return config


ENVIRONMENTS = {
    "example": lambda: copy.deepcopy(EXAMPLE),
    "oauth-letsencrypt": oauth_letsencrypt,
    "native-secret": native_secret_certificate,
    "gpu-desktop": gpu_desktop,
}


def settings_of(name: str) -> Settings:
    return Settings.model_validate(ENVIRONMENTS[name]())


def rendered(name: str, template: str) -> dict[str, Any]:
    return render(template, settings_of(name), placeholder_secrets()).values


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_jupyterhub_values_satisfy_the_chart_schema(name: str) -> None:
    values = merged(chart_defaults(JUPYTERHUB), rendered(name, "jupyterhub"))
    validator = jsonschema.Draft7Validator(chart_schema(JUPYTERHUB))
    problems = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(values)]
    assert problems == []


def test_schema_check_can_fail() -> None:
    values = merged(chart_defaults(JUPYTERHUB), rendered("example", "jupyterhub"))
    values["proxy"]["https"]["type"] = "acme"
    assert not jsonschema.Draft7Validator(chart_schema(JUPYTERHUB)).is_valid(values)


def test_each_environment_renders_its_own_sign_in_and_certificate() -> None:
    oauth = rendered("oauth-letsencrypt", "jupyterhub")
    assert oauth["hub"]["config"]["JupyterHub"]["authenticator_class"] == "generic-oauth"
    assert oauth["hub"]["config"]["GenericOAuthenticator"]["allowed_groups"] == ["stfc-cloud"]
    assert oauth["proxy"]["https"]["letsencrypt"]["acmeServer"].startswith(
        "https://acme-staging-v02"
    )
    native = rendered("native-secret", "jupyterhub")
    assert native["hub"]["config"]["Authenticator"]["admin_users"] == ["alice", "bob"]
    assert native["proxy"]["https"] == {
        "enabled": True,
        "hosts": ["jupyter.example.org"],
        "type": "secret",
        "secret": {"name": "hub-tls"},
    }
    assert "loadBalancerIP" not in native["proxy"]["service"]
    assert native["scheduling"]["userPlaceholder"] == {"enabled": False, "replicas": 0}
    desktop = rendered("gpu-desktop", "jupyterhub")
    slugs = [p["slug"] for p in desktop["singleuser"]["profileList"]]
    assert slugs == ["default", "large", "gpu", "vdi"]
    assert desktop["singleuser"]["extraEnv"] == {"GRANT_SUDO": "yes"}


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_kube_prometheus_stack_keys_exist_upstream(name: str) -> None:
    values = rendered(name, "kube-prometheus-stack")
    grafana = values.pop("grafana")
    # kube-state-metrics is a subchart whose values are not among the fixtures;
    # configSecret is only commented in values.yaml, but
    # templates/alertmanager/alertmanager.yaml reads it (kube-prometheus-stack-88.5.3).
    free_form = ("kube-state-metrics", "alertmanager.alertmanagerSpec.configSecret")
    assert unknown_paths(values, chart_defaults(KUBE_PROMETHEUS_STACK), free_form=free_form) == []
    assert unknown_paths(grafana, chart_defaults(GRAFANA)) == []


@pytest.mark.parametrize("name", ["example", "gpu-desktop"])
def test_gpu_operator_keys_exist_upstream(name: str) -> None:
    # dcgmExporter.config is only described in values.yaml's comments; the chart's
    # templates/dcgm_exporter_config.yaml reads it (gpu-operator v26.7.0).
    ours = rendered(name, "gpu-operator")
    assert (
        unknown_paths(ours, chart_defaults(GPU_OPERATOR), free_form=("dcgmExporter.config",)) == []
    )


def test_key_check_can_fail() -> None:
    values = rendered("example", "gpu-operator")
    values["driver"]["imageTag"] = "x"
    free_form = ("dcgmExporter.config",)
    assert unknown_paths(values, chart_defaults(GPU_OPERATOR), free_form=free_form) == [
        "driver.imageTag"
    ]


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_manifests_are_valid_kubernetes(name: str) -> None:
    settings = settings_of(name)
    for _, manifest in manifests.planned(settings, placeholder_secrets()):
        kubernetes_validate.validate(manifest, "1.32", strict=True)


def manifest_kinds(name: str) -> list[str]:
    return [m["kind"] for _, m in manifests.planned(settings_of(name), placeholder_secrets())]


def test_priority_class_only_where_needed() -> None:
    assert "PriorityClass" not in manifest_kinds("example")  # capi-helm: auto means off
    assert "PriorityClass" in manifest_kinds("gpu-desktop")  # heat: auto means on


def test_releases_follow_the_config() -> None:
    assert [r.template for r in releases(settings_of("example"))] == [
        "jupyterhub",
        "kube-prometheus-stack",
        "gpu-operator",
    ]
    assert [r.template for r in releases(settings_of("native-secret"))] == [
        "jupyterhub",
        "kube-prometheus-stack",
    ]
