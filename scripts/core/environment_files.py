"""Create config/<env>.yaml and its secrets file; show an environment with secrets hidden."""

from __future__ import annotations

import secrets as random
from pathlib import Path
from typing import Any

import yaml

from . import paths
from .console import REDACTED
from .errors import BadInput, Problem, bad_option
from .loading import Environment
from .private_files import write_private
from .settings import Secrets, hostname

AUTH_CHOICES = ("oauth", "native", "dummy")


def generate_secrets() -> dict[str, Any]:
    """Fresh random values for everything the tool can generate itself."""
    return {
        "proxy_secret_token": random.token_hex(32),
        "metrics_token": random.token_hex(32),
        "health_check_token": random.token_hex(32),
        "grafana_admin_password": random.token_urlsafe(24),
        # Only the OAuth provider can issue this one: the operator pastes it in.
        "oauth_client_secret": "",
        "native_admin_passwords": {},
    }


def save_secrets(path: Path, values: Secrets | dict[str, Any]) -> None:
    data = values.model_dump() if isinstance(values, Secrets) else values
    header = "# Secrets of one environment. Mode 0600, git-ignored: never commit or share.\n"
    write_private(path, header + yaml.safe_dump(data, sort_keys=False))


def initial_config(example: str, auth: str | None, domain: str | None) -> str:
    """The example's text with the chosen sign-in and domain, comments kept."""
    lines = example.splitlines(keepends=True)
    if auth:
        lines = _replace_once(lines, "    type: ", f"    type: {auth}\n", after="  auth:")
    if domain:
        lines = _replace_once(lines, "  domain: ", f"  domain: {domain}\n", after="hub:")
    return "".join(lines)


def _replace_once(lines: list[str], prefix: str, new: str, after: str) -> list[str]:
    seen_anchor = False
    for index, line in enumerate(lines):
        if line.rstrip("\n") == after:
            seen_anchor = True
        elif seen_anchor and line.startswith(prefix):
            lines[index] = new
            return lines
    raise AssertionError(f"config/example.yaml lost its {prefix.strip()!r} line")


def init(env: str, auth: str | None, domain: str | None, force: bool) -> tuple[Path, Path]:
    if auth is not None and auth not in AUTH_CHOICES:
        raise bad_option("--auth", f"{auth!r} is not allowed; use one of {', '.join(AUTH_CHOICES)}")
    if domain is not None:
        try:
            domain = hostname(domain)
        except ValueError as error:
            raise bad_option("--domain", str(error)) from None
    if env == paths.DEFAULT_ENV:
        raise bad_option("--env", "'example' is the bundled example; name your own environment")
    config_path = paths.config_file(env)
    secrets_path = paths.secrets_file(env)
    existing = [p for p in (config_path, secrets_path) if p.exists()]
    if existing and not force:
        raise BadInput(
            [
                Problem("option --force", f"{p} exists; not overwritten without --force")
                for p in existing
            ]
        )
    example = (paths.ROOT / "config" / "example.yaml").read_text(encoding="utf-8")
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(initial_config(example, auth, domain), encoding="utf-8")
    save_secrets(secrets_path, generate_secrets())
    return config_path, secrets_path


def shown(environment: Environment) -> str:
    """The effective settings as YAML, plus which secrets are set (never their values)."""
    data: dict[str, Any] = environment.settings.model_dump(mode="json")
    if environment.secrets is not None:
        data["secrets"] = {
            key: (REDACTED if value else "(empty)")
            if not isinstance(value, dict)
            else {user: REDACTED for user in value}
            for key, value in environment.secrets.model_dump().items()
        }
    else:
        data["secrets"] = f"(no file: {environment.secrets_path})"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
