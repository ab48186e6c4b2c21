"""hub.pending, hub.approve and hub.reject: NativeAuthenticator sign-ups from the terminal.

The seed sent operators to type /hub/authorize into a browser and click. Here an
admin account from the secrets file logs in and reads the same page. Approval
there is a toggle, so the current state is read first and an approved user is
never flipped back by a repeated command.
"""

from __future__ import annotations

import re
from functools import partial

import requests

from ..core.changes import Changes
from ..core.console import Console
from ..core.errors import BadInput, OperationFailed, Problem, bad_option
from ..core.loading import Environment
from ..core.prompts import Ask, confirm_deletion
from .admins import require_native
from .hub_web import HubWeb, SignUp


def parse_names(text: str, *, every: bool) -> list[str]:
    """--names, separated by commas or spaces; or none with --all."""
    names = [name for name in re.split(r"[,\s]+", text.strip()) if name]
    if every and names:
        raise bad_option("--all", "give either --names or --all, not both")
    if not every and not names:
        raise bad_option("--names", "name at least one sign-up (--names alice,bob), or use --all")
    return names


def admin_session(environment: Environment, web: HubWeb) -> requests.Session:
    """Log in as the first configured admin whose password the secrets file holds."""
    admins = require_native(environment, "this task")
    stored = environment.secrets.native_admin_passwords if environment.secrets else {}
    for name in admins:
        password = stored.get(name)
        if password:
            session = web.login(name, password)
            if session is not None:
                return session
    raise OperationFailed(
        "no configured admin can log in with a password from the secrets file",
        f"register the admins first: `invoke hub.admins --env {environment.name}`",
    )


def pending(environment: Environment, ui: Console, web: HubWeb) -> list[SignUp]:
    admin = admin_session(environment, web)
    waiting = [s for s in web.sign_ups(admin) if not s.authorized]
    if not waiting:
        ui.print("No sign-ups are waiting for approval.")
    else:
        ui.print(f"{len(waiting)} sign-up(s) waiting for approval:")
        for sign_up in waiting:
            ui.print(f"  {sign_up.name}")
        ui.print(
            f"Approve with `invoke hub.approve --names {waiting[0].name} --env {environment.name}` "
            "(or --all)."
        )
    return waiting


def _select(known: list[SignUp], names: list[str], every: bool) -> list[SignUp]:
    if every:
        return [s for s in known if not s.authorized]
    by_name = {s.name: s for s in known}
    missing = [name for name in names if name not in by_name]
    if missing:
        waiting = ", ".join(s.name for s in known if not s.authorized) or "none"
        raise BadInput(
            [
                Problem(f"option --names {name}", f"no sign-up by that name; waiting: {waiting}")
                for name in missing
            ]
        )
    return [by_name[name] for name in names]


def approve(
    environment: Environment,
    ui: Console,
    web: HubWeb,
    names: list[str],
    *,
    every: bool,
    dry_run: bool,
) -> list[str]:
    admin = admin_session(environment, web)
    chosen = _select(web.sign_ups(admin), names, every)
    changes = Changes(ui, dry_run=dry_run)
    approved = []
    for sign_up in chosen:
        with ui.step(f"approve {sign_up.name}") as step:
            if sign_up.authorized:
                step.unchanged("already approved")
                continue
            changes.make(f"approve {sign_up.name}", partial(web.toggle, admin, sign_up.name))
            approved.append(sign_up.name)
    if approved and not dry_run:
        now = {s.name: s.authorized for s in web.sign_ups(admin)}
        failed = [name for name in approved if not now.get(name)]
        if failed:
            raise OperationFailed(
                f"the hub still lists {', '.join(failed)} as not approved",
                "approve them at /hub/authorize (`invoke hub.authorize-url`)",
            )
    if not chosen:
        ui.print("No sign-ups are waiting for approval.")
    return approved


def reject(
    environment: Environment,
    ui: Console,
    web: HubWeb,
    names: list[str],
    *,
    dry_run: bool,
    yes: bool,
    ask: Ask | None = None,
) -> list[str]:
    # Asked before anything is read, so an unattended run without --yes stops as bad input.
    if not dry_run and not confirm_deletion(
        f"delete the sign-up(s) of {', '.join(names)}", yes=yes, ask=ask
    ):
        ui.print("Nothing rejected.")
        return []
    admin = admin_session(environment, web)
    chosen = _select(web.sign_ups(admin), names, every=False)
    approved = [s.name for s in chosen if s.authorized]
    if approved:
        raise BadInput(
            [
                Problem(
                    f"option --names {name}",
                    "already approved; rejecting only removes waiting sign-ups "
                    "(remove an approved user in the hub's admin page)",
                )
                for name in approved
            ]
        )
    changes = Changes(ui, dry_run=dry_run)
    for sign_up in chosen:
        with ui.step(f"reject {sign_up.name}"):
            changes.make(
                f"delete the sign-up {sign_up.name}", partial(web.discard, admin, sign_up.name)
            )
    if not dry_run:
        left = {s.name for s in web.sign_ups(admin)}
        still = [s.name for s in chosen if s.name in left]
        if still:
            raise OperationFailed(f"the hub still lists {', '.join(still)}")
    return [s.name for s in chosen]
