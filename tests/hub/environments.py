"""The four reference environments of the hub tests, and writing one to a config folder.

example            the bundled example (OAuth, Let's Encrypt, GPU profile, floating IP)
oauth-letsencrypt  OAuth with groups, Let's Encrypt staging, no GPU
native-secret      native sign-in, a certificate you bring, no floating IP, no placeholders
gpu-desktop        GPU and virtual-desktop profiles, sudo, heat driver
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

import yaml

from scripts.core.environment_files import generate_secrets, save_secrets
from scripts.core.settings import Settings
from tests.conftest import ROOT

EXAMPLE: dict[str, Any] = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())


def example() -> dict[str, Any]:
    return copy.deepcopy(EXAMPLE)


def oauth_letsencrypt() -> dict[str, Any]:
    config = example()
    config["cluster"]["gpu"]["enabled"] = False
    config["hub"]["profiles"] = [p for p in config["hub"]["profiles"] if p["name"] != "gpu"]
    config["hub"]["https"]["staging"] = True
    config["hub"]["auth"]["oauth"]["allowed_groups"] = ["physics", "chemistry"]
    config["hub"]["auth"]["oauth"]["admin_groups"] = ["hub-admins"]
    return config


def native_secret() -> dict[str, Any]:
    config = oauth_letsencrypt()
    config["hub"]["auth"] = {
        "type": "native",
        "native": {"admin_users": ["alice", "bob"], "allowed_users": [], "open_signup": False},
    }
    config["hub"]["https"] = {"mode": "secret", "secret_name": "hub-tls"}
    config["hub"]["floating_ip"] = None
    config["hub"]["placeholders"] = {"enabled": False}
    return config


def gpu_desktop() -> dict[str, Any]:
    config = example()
    config["cluster"]["driver"] = "heat"
    for profile in config["hub"]["profiles"]:
        profile["enabled"] = True
    config["hub"]["sudo"] = True
    return config


ENVIRONMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "example": example,
    "oauth-letsencrypt": oauth_letsencrypt,
    "native-secret": native_secret,
    "gpu-desktop": gpu_desktop,
}


def settings(name: str) -> Settings:
    return Settings.model_validate(ENVIRONMENTS[name]())


def write(
    folder: Path, env: str, config: dict[str, Any], secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """config/<env>.yaml and its 0600 secrets file; returns the secrets written."""
    (folder / f"{env}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    values = secrets if secrets is not None else generate_secrets()
    # What the operator pastes in from the OAuth provider; any value will do here.
    values["oauth_client_secret"] = values.get("oauth_client_secret") or token_urlsafe(24)
    save_secrets(folder / f"{env}.secrets.yaml", values)
    return values
