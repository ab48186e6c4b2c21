"""hub.admins: register the configured admin accounts right after a deploy.

With NativeAuthenticator an admin account is created by signing up under a name
listed in admin_users, and such a sign-up is approved at once. Until that
happens anyone could sign up under the admin's name and be admin. So this
signs every configured admin up immediately, with a generated password kept in
the environment's secrets file (mode 0600), and says which already existed.
"""

from __future__ import annotations

import secrets as random
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from ..core.changes import Changes
from ..core.console import Console
from ..core.environment_files import save_secrets
from ..core.errors import BadInput, OperationFailed, Problem
from ..core.loading import Environment
from .hub_web import HubWeb


@dataclass
class Report:
    registered: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def require_native(environment: Environment, task: str) -> list[str]:
    """The configured admin names; bad input unless the hub uses NativeAuthenticator."""
    auth = environment.settings.hub.auth
    if auth.type != "native" or auth.native is None:
        raise BadInput(
            Problem(
                "hub.auth.type",
                f"{task} works with 'native' sign-in only (this environment uses {auth.type!r})",
            )
        )
    return list(auth.native.admin_users)


def new_password() -> str:
    # 32 URL-safe characters: longer than any minimum_password_length we allow by
    # default and never in NativeAuthenticator's common-password list.
    return random.token_urlsafe(24)


def run(
    environment: Environment, ui: Console, web: HubWeb, *, dry_run: bool, summary: bool = True
) -> Report:
    """Sign up each configured admin not yet registered with the stored password.

    hub.deploy calls this too, through a port-forward to the hub pod, with its own
    summary (summary=False); a name someone else holds fails either way.
    """
    admins = require_native(environment, "hub.admins")
    stored = dict(environment.secrets.native_admin_passwords) if environment.secrets else {}
    changes = Changes(ui, dry_run=dry_run)
    report = Report()
    for name in admins:
        with ui.step(f"admin {name}") as step:
            password = stored.get(name)
            if password and web.login(name, password) is not None:
                step.unchanged("already registered; the stored password logs in")
                report.existing.append(name)
                continue
            if password is None:
                password = new_password()
                ui.add_secrets([password])
                # Stored before the sign-up, so a crash in between never loses it.
                changes.make(
                    f"store a generated password for {name} in {environment.secrets_path}",
                    partial(_store, environment.secrets_path, name, password),
                )
            result = changes.make(
                f"sign up {name} at {web.base_url}hub/signup",
                partial(web.signup, name, password),
            )
            if dry_run:
                step.planned("would sign up")
                continue
            if result == "taken":
                step.skipped("the name is taken, and not with the stored password")
                report.conflicts.append(name)
                continue
            if result != "created" or web.login(name, password) is None:
                raise OperationFailed(
                    f"signing up admin {name} did not give a working login (hub said: {result})",
                    "check that the name is in hub.auth.native.admin_users of the deployed "
                    "release (`invoke hub.deploy`) and that minimum_password_length is at most 32",
                )
            step.done(f"registered; password in {environment.secrets_path}")
            report.registered.append(name)
    _finish(environment, ui, report, summary=summary)
    return report


def _store(path: Path, name: str, password: str) -> None:
    """Add one password to the secrets file, leaving every other line's value as it was."""
    data: dict[str, Any] = {}
    if path.exists():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        data = loaded if isinstance(loaded, dict) else {}
    passwords = dict(data.get("native_admin_passwords") or {})
    passwords[name] = password
    data["native_admin_passwords"] = passwords
    save_secrets(path, data)


def _summary_lines(environment: Environment, report: Report) -> list[str]:
    lines = []
    if report.registered:
        lines.append(f"registered now: {', '.join(report.registered)}")
    if report.existing:
        lines.append(f"already registered: {', '.join(report.existing)}")
    if report.registered:
        lines.append(f"passwords: native_admin_passwords in {environment.secrets_path}")
    return lines


def _finish(environment: Environment, ui: Console, report: Report, *, summary: bool) -> None:
    if summary:
        ui.summary(_summary_lines(environment, report))
    if report.conflicts:
        names = ", ".join(report.conflicts)
        raise OperationFailed(
            f"admin name(s) {names} are registered, but not with a password this tool knows; "
            "if you did not register them yourself, someone else may hold admin rights",
            "if it was you, put the password under native_admin_passwords in "
            f"{environment.secrets_path}; otherwise delete the user in the hub's admin page "
            "(or `helm uninstall` and redeploy) and run `invoke hub.admins` at once",
        )
