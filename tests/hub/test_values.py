"""The hub's Helm values: valid for z2jh 4.4.0, and meaning what the config says.

Schema validity is checked after Helm's merge with the chart's defaults; the
sign-in settings are then fed to the real authenticator classes, so "allowed
groups" is proven to admit and refuse the right people, not only to be a key.
"""

from __future__ import annotations

import asyncio
from typing import Any

import jsonschema
import pytest
from traitlets.config import Config

from scripts.core.settings import Settings
from scripts.core.templates import placeholder_secrets, render
from tests.hub import environments
from tests.support.contract import JUPYTERHUB, chart_defaults, chart_schema, merged


def values_of(name: str, change: Any = None) -> dict[str, Any]:
    config = environments.ENVIRONMENTS[name]()
    if change is not None:
        change(config)
    return render("jupyterhub", Settings.model_validate(config), placeholder_secrets()).values


@pytest.mark.parametrize("name", environments.ENVIRONMENTS)
def test_values_validate_against_the_chart_schema(name: str) -> None:
    values = merged(chart_defaults(JUPYTERHUB), values_of(name))
    validator = jsonschema.Draft7Validator(chart_schema(JUPYTERHUB))
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(values)]
    assert errors == []


def test_schema_catches_a_wrong_type() -> None:
    values = merged(chart_defaults(JUPYTERHUB), values_of("example"))
    values["proxy"]["service"]["loadBalancerIP"] = ["192.0.2.10"]
    assert not jsonschema.Draft7Validator(chart_schema(JUPYTERHUB)).is_valid(values)


def test_proxy_keeps_the_floating_ip() -> None:
    service = values_of("example")["proxy"]["service"]
    assert service["type"] == "LoadBalancer"
    assert service["loadBalancerIP"] == "192.0.2.10"
    assert service["annotations"]["loadbalancer.openstack.org/keep-floatingip"] == "true"
    assert "loadBalancerIP" not in values_of("native-secret")["proxy"]["service"]


def test_letsencrypt_and_secret_certificates() -> None:
    https = values_of("oauth-letsencrypt")["proxy"]["https"]
    assert https["type"] == "letsencrypt"
    assert https["hosts"] == ["jupyter.example.org"]
    assert https["letsencrypt"] == {
        "contactEmail": "ops@example.org",
        "acmeServer": "https://acme-staging-v02.api.letsencrypt.org/directory",
    }
    production = values_of("example")["proxy"]["https"]["letsencrypt"]["acmeServer"]
    assert production == "https://acme-v02.api.letsencrypt.org/directory"
    assert values_of("native-secret")["proxy"]["https"]["secret"] == {"name": "hub-tls"}


def test_https_off_renders_no_hosts() -> None:
    def off(config: dict[str, Any]) -> None:
        config["hub"]["https"] = {"mode": "off"}
        config["hub"]["auth"] = {"type": "native", "native": {"admin_users": ["admin"]}}

    assert values_of("example", off)["proxy"]["https"] == {"enabled": False}


def test_profiles_and_placeholders() -> None:
    values = values_of("gpu-desktop")
    profiles = {p["slug"]: p for p in values["singleuser"]["profileList"]}
    assert list(profiles) == ["default", "large", "gpu", "vdi"]
    assert profiles["default"]["default"] is True
    gpu = profiles["gpu"]["kubespawner_override"]
    assert gpu["extra_resource_limits"] == {"nvidia.com/gpu": "1"}
    assert gpu["tolerations"][0] == {
        "key": "nvidia.com/gpu",
        "operator": "Equal",
        "value": "present",
        "effect": "NoSchedule",
    }
    assert gpu["image"].startswith("quay.io/jupyter/pytorch-notebook")
    # Every profile names every trait a profile changes, so nothing of one carries over
    # to the next start (a GPU limit is removed with None).
    assert profiles["large"]["kubespawner_override"]["extra_resource_limits"] == {
        "nvidia.com/gpu": None
    }
    assert set(profiles["default"]["kubespawner_override"]) == set(gpu)
    assert profiles["vdi"]["kubespawner_override"]["image"] == (
        "quay.io/jupyterhub/jupyter-remote-desktop-proxy:3.0.1"
    )
    assert profiles["vdi"]["kubespawner_override"]["default_url"] == "/desktop"
    assert values["singleuser"]["extraEnv"] == {"GRANT_SUDO": "yes"}
    assert values["singleuser"]["uid"] == 0
    assert values["singleuser"]["allowPrivilegeEscalation"] is True
    scheduling = values["scheduling"]
    assert scheduling["podPriority"]["userPlaceholderPriority"] == -10
    # The default profile's pod in bytes and cores, for the placeholders as for KubeSpawner.
    assert scheduling["userPlaceholder"] == {
        "enabled": True,
        "replicas": 4,
        "resources": {
            "requests": {"cpu": 0.05, "memory": 1_800_000_000},
            "limits": {"cpu": 2, "memory": 1_800_000_000},
        },
    }
    assert values_of("native-secret")["scheduling"]["userPlaceholder"]["replicas"] == 0
    assert values["singleuser"]["memory"] == {"limit": 1_800_000_000, "guarantee": 1_800_000_000}
    assert values["singleuser"]["cpu"] == {"limit": 2, "guarantee": 0.05}
    example = values_of("example")
    assert "extraEnv" not in example["singleuser"] and "uid" not in example["singleuser"]
    assert "allowPrivilegeEscalation" not in example["singleuser"]
    assert [p["slug"] for p in example["singleuser"]["profileList"]] == ["default", "large", "gpu"]


def test_storage_shared_memory_and_culling() -> None:
    values = values_of("example")
    storage = values["singleuser"]["storage"]
    assert storage["type"] == "dynamic"
    assert storage["capacity"] == "1Gi"
    assert storage["dynamic"] == {"storageClass": "cinder-storage"}
    assert storage["extraVolumes"] == [{"name": "shm-volume", "emptyDir": {"medium": "Memory"}}]
    assert storage["extraVolumeMounts"] == [{"name": "shm-volume", "mountPath": "/dev/shm"}]
    assert values["singleuser"]["startTimeout"] == 1200
    assert values["cull"] == {"enabled": True, "timeout": 86400, "every": 300}


def test_metrics_service_reads_metrics_only() -> None:
    hub = values_of("example")["hub"]
    assert hub["authenticatePrometheus"] is True
    assert hub["services"]["metrics"]["api_token"] == "«secret:metrics_token»"
    assert hub["loadRoles"]["metrics"] == {
        "description": "Read the hub's Prometheus metrics",
        "scopes": ["read:metrics"],
        "services": ["metrics"],
    }


# ------------------------------------------------------------------ sign-in, for real


def oauth_authenticator(values: dict[str, Any]) -> Any:
    from oauthenticator.generic import GenericOAuthenticator

    config = values["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "generic-oauth"
    return GenericOAuthenticator(config=Config(config))


async def sign_in(authenticator: Any, name: str, groups: list[str]) -> tuple[bool, Any]:
    """What the hub decides for a user whose userinfo carries these groups."""
    user_info = {"preferred_username": name, "groups": groups}
    auth_state = authenticator.build_auth_state_dict({"access_token": "t"}, user_info)
    model = {
        "name": authenticator.user_info_to_username(user_info),
        "admin": None,
        "auth_state": auth_state,
    }
    model = await authenticator.update_auth_model(model)
    if authenticator.manage_groups:
        model = await authenticator._apply_managed_groups(model)
    return await authenticator.check_allowed(model["name"], model), model.get("admin")


def test_oauth_groups_admit_and_refuse_the_right_people() -> None:
    values = values_of("oauth-letsencrypt")
    authenticator = oauth_authenticator(values)
    assert authenticator.client_id == "my-client-id"
    assert authenticator.oauth_callback_url == "https://jupyter.example.org/hub/oauth_callback"
    assert authenticator.authorize_url == "https://iris-iam.stfc.ac.uk/authorize"
    assert authenticator.scope == ["openid", "profile", "email", "groups"]
    assert authenticator.login_service == "IRIS IAM"
    assert authenticator.auto_login is False

    assert asyncio.run(sign_in(authenticator, "ann", ["physics"])) == (True, False)
    assert asyncio.run(sign_in(authenticator, "eve", ["biology"]))[0] is False
    allowed, admin = asyncio.run(sign_in(authenticator, "ada", ["hub-admins"]))
    assert (allowed, admin) == (True, True)


def test_oauth_without_groups_admits_anyone_and_makes_no_admin() -> None:
    def open_door(config: dict[str, Any]) -> None:
        config["hub"]["auth"]["oauth"]["allowed_groups"] = []
        config["hub"]["auth"]["oauth"]["admin_groups"] = []

    authenticator = oauth_authenticator(values_of("oauth-letsencrypt", open_door))
    allowed, admin = asyncio.run(sign_in(authenticator, "anyone", []))
    assert allowed is True
    assert not admin


def test_oauth_admin_groups_alone_still_admit_everyone() -> None:
    def admins_only(config: dict[str, Any]) -> None:
        config["hub"]["auth"]["oauth"]["allowed_groups"] = []

    authenticator = oauth_authenticator(values_of("oauth-letsencrypt", admins_only))
    assert asyncio.run(sign_in(authenticator, "visitor", []))[0] is True
    assert asyncio.run(sign_in(authenticator, "ada", ["hub-admins"]))[1] is True


def test_native_sign_in_settings() -> None:
    pytest.importorskip("nativeauthenticator")
    config = values_of("native-secret")["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "nativeauthenticator.NativeAuthenticator"
    assert config["Authenticator"] == {
        "admin_users": ["alice", "bob"],
        "allow_all": True,
        "blocked_users": ["jhub-health-check"],
    }
    assert config["NativeAuthenticator"] == {
        "open_signup": False,
        "check_common_password": True,
        "minimum_password_length": 10,
    }

    def whitelist(settings: dict[str, Any]) -> None:
        settings["hub"]["auth"]["native"]["allowed_users"] = ["carol"]

    listed = values_of("native-secret", whitelist)["hub"]["config"]["Authenticator"]
    assert listed == {
        "admin_users": ["alice", "bob"],
        "allowed_users": ["carol"],
        "blocked_users": ["jhub-health-check"],
    }


def test_dummy_sign_in_only_for_local_names() -> None:
    from pydantic import ValidationError

    def dummy(config: dict[str, Any], domain: str) -> None:
        config["hub"]["auth"] = {"type": "dummy"}
        config["hub"]["domain"] = domain
        config["hub"]["https"] = {"mode": "off"}

    local = values_of("example", lambda c: dummy(c, "hub.test"))
    assert local["hub"]["config"]["JupyterHub"]["authenticator_class"] == "dummy"
    with pytest.raises(ValidationError, match="dummy"):
        values_of("example", lambda c: dummy(c, "jupyter.example.org"))
