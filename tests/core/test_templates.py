"""Rendering survives hostile text in the config and keeps secrets out of offline output."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from scripts.core.settings import Settings
from scripts.core.templates import image_name, image_tag, placeholder_secrets, render
from tests.conftest import ROOT

EXAMPLE: dict[str, Any] = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())


def test_free_text_cannot_break_the_yaml() -> None:
    config = copy.deepcopy(EXAMPLE)
    hostile = 'Big: "quoted" \n  - not: a list\n{{ jinja }} # comment'
    config["hub"]["profiles"][1]["display_name"] = hostile
    config["hub"]["profiles"][1]["description"] = hostile
    config["hub"]["auth"]["oauth"]["login_service"] = hostile
    values = render("jupyterhub", Settings.model_validate(config), placeholder_secrets()).values
    assert values["singleuser"]["profileList"][1]["display_name"] == hostile
    assert values["hub"]["config"]["GenericOAuthenticator"]["login_service"] == hostile


def test_empty_groups_mean_anyone_and_no_admins() -> None:
    config = copy.deepcopy(EXAMPLE)
    config["hub"]["auth"]["oauth"]["allowed_groups"] = []
    config["hub"]["auth"]["oauth"]["admin_groups"] = []
    values = render("jupyterhub", Settings.model_validate(config), placeholder_secrets()).values
    hub_config = values["hub"]["config"]
    assert hub_config["Authenticator"]["allow_all"] is True
    assert "admin_groups" not in hub_config["GenericOAuthenticator"]


def test_gpu_profile_tolerates_the_gpu_taint() -> None:
    values = render("jupyterhub", Settings.model_validate(EXAMPLE), placeholder_secrets()).values
    gpu = next(p for p in values["singleuser"]["profileList"] if p["slug"] == "gpu")
    override = gpu["kubespawner_override"]
    assert override["extra_resource_limits"] == {"nvidia.com/gpu": "1"}
    assert override["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert override["tolerations"][0]["effect"] == "NoSchedule"


def test_image_references_split_at_the_tag_only() -> None:
    assert (
        image_name("registry.example.org:5000/team/img:1.2") == "registry.example.org:5000/team/img"
    )
    assert image_tag("registry.example.org:5000/team/img:1.2") == "1.2"
    assert image_tag("registry.example.org:5000/team/img") == "latest"
