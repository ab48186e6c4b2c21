"""Where the project keeps things, relative to the repository root."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import BadInput, Problem, shown

ROOT = Path(__file__).resolve().parents[2]
ENV_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
DEFAULT_ENV = "example"


def config_dir() -> Path:
    # Tests and CI point this elsewhere so they never write into the checkout.
    return Path(os.environ.get("JHUB_CONFIG_DIR", ROOT / "config"))


def build_dir() -> Path:
    return Path(os.environ.get("JHUB_BUILD_DIR", ROOT / "build"))


def resolve_env(option: str | None) -> str:
    """The environment named by --env, else JHUB_ENV, else the bundled example."""
    name = option or os.environ.get("JHUB_ENV") or DEFAULT_ENV
    # fullmatch: with match and '$', a trailing newline would pass and end up in file names.
    if not ENV_NAME.fullmatch(name):
        where = "option --env" if option else "JHUB_ENV"
        raise BadInput(
            Problem(
                where,
                f"{shown(name)} is not an environment name; use lower-case letters, digits, "
                "'-' or '_', at most 40 (the file config/<name>.yaml)",
            )
        )
    return name


def config_file(env: str) -> Path:
    return config_dir() / f"{env}.yaml"


def secrets_file(env: str) -> Path:
    return config_dir() / f"{env}.secrets.yaml"


def kubeconfig_file(env: str) -> Path:
    return config_dir() / f"{env}.kubeconfig"


def tls_backup_file(env: str) -> Path:
    return config_dir() / f"{env}.tls-backup.yaml"


def state_dir(env: str) -> Path:
    return config_dir() / f"{env}.state"


def hub_backup_dir(env: str) -> Path:
    """Where hub.backup (and hub.uninstall, destroy before they delete) write by default."""
    return config_dir() / f"{env}.backups"
