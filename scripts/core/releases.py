"""Whether a Helm release needs installing, upgrading, nothing, or rescuing first.

"Unchanged" means the last revision is `deployed`, it runs the configured chart version,
and its values equal the rendered ones. `helm get values` answers for the last revision
even when it failed or is still pending (helm/helm v4.1.4 pkg/action/get_values.go
reads `Releases.Last`), so values alone would call a failed first install or a chart
bump "unchanged" and never retry it.

A last revision in `pending-install`, `pending-upgrade` or `pending-rollback` is left by
a helm that was killed or lost its connection; helm refuses every later upgrade of it
with "another operation (install/upgrade/rollback) is in progress" (pkg/action/
upgrade.go errPending). The remedy is `helm rollback` to the last deployed revision
(rollback.go does not refuse pending releases), or for an install that never got
deployed, `helm uninstall`; `recover` does that behind the deploy tasks' `--recover`
option (with `--yes`, or a person who confirms, and with `--dry-run`).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from . import values_diff
from .changes import Changes
from .console import Console
from .errors import OperationFailed
from .helm import Helm, Revision, operation_budget
from .prompts import Ask, confirm_deletion

Action = Literal["install", "upgrade", "unchanged", "blocked"]
HISTORY_SHOWN = 5


@dataclass(frozen=True)
class Release:
    """One release as the config wants it."""

    name: str
    namespace: str
    chart_version: str
    values: dict[str, Any]
    timeout_seconds: int


@dataclass
class Plan:
    action: Action
    reasons: list[str] = field(default_factory=list)
    changes: list[values_diff.Change] = field(default_factory=list)
    revisions: list[Revision] = field(default_factory=list)

    @property
    def last(self) -> Revision | None:
        return self.revisions[-1] if self.revisions else None

    @property
    def deployed(self) -> Revision | None:
        """The revision that runs now: the newest deployed one (an older one stays
        `deployed` while a newer one is pending or failed)."""
        for revision in reversed(self.revisions):
            if revision.status == "deployed":
                return revision
        return None

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def same_version(a: str, b: str) -> bool:
    return a.lstrip("v") == b.lstrip("v")


def plan(
    client: Helm,
    release: Release,
    *,
    normalise: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Plan:
    """What to do with the release, from its history, chart version and values."""
    revisions = client.history(release.name, release.namespace)
    if not revisions or revisions[-1].status == "uninstalled":
        return Plan("install", ["not installed yet"], revisions=revisions or [])
    last = revisions[-1]
    if last.pending:
        return Plan("blocked", [f"revision {last.revision} is {last.status}"], revisions=revisions)
    if last.status == "uninstalling":
        raise OperationFailed(
            f"release {release.namespace}/{release.name} is being uninstalled "
            f"(revision {last.revision}: {last.description})",
            f"wait for that uninstall to end, or finish it: `helm uninstall {release.name} "
            f"--namespace {release.namespace}`; then re-run",
        )
    reasons = []
    if last.status != "deployed":
        reasons.append(f"last revision {last.revision} is {last.status}")
    if not same_version(last.chart_version, release.chart_version):
        reasons.append(f"chart {last.chart_version or last.chart} → {release.chart_version}")
    deployed = client.get_values(release.name, release.namespace) or {}
    wanted = release.values
    if normalise is not None:
        deployed, wanted = normalise(deployed), normalise(wanted)
    found = values_diff.changes(deployed, wanted)
    if found:
        reasons.append(f"{len(found)} value(s) changed")
    return Plan("upgrade" if reasons else "unchanged", reasons, found, revisions)


def unchanged_detail(plan_: Plan, chart_version: str) -> str:
    number = plan_.last.revision if plan_.last else "?"
    return f"revision {number} deployed, chart {chart_version}, values unchanged; no upgrade"


def history_lines(release: Release, revisions: list[Revision]) -> list[str]:
    lines = [f"helm history {release.name} --namespace {release.namespace} (last revisions):"]
    for revision in revisions[-HISTORY_SHOWN:]:
        note = revision.description.splitlines()[0] if revision.description else ""
        lines.append(
            f"  {revision.revision:>4}  {revision.status:<16} {revision.chart:<32} "
            f"{revision.updated}  {note}"
        )
    return lines


def remedy_command(release: Release, plan_: Plan) -> str:
    target = plan_.deployed
    if target is not None:
        return f"helm rollback {release.name} {target.revision} --namespace {release.namespace}"
    return f"helm uninstall {release.name} --namespace {release.namespace}"


def blocked(release: Release, plan_: Plan, task: str) -> OperationFailed:
    """The failure for a pending release, with the task option and the helm command."""
    last = plan_.last
    assert last is not None
    target = plan_.deployed
    undo = (
        f"rolls it back to revision {target.revision} (the last deployed) and deploys again"
        if target is not None
        else "uninstalls the install that never got deployed, then installs again"
    )
    return OperationFailed(
        f"release {release.namespace}/{release.name} is {last.status} (revision "
        f"{last.revision}, {last.updated}): a helm that was interrupted left it locked, and "
        'helm refuses every upgrade with "another operation (install/upgrade/rollback) is '
        'in progress"',
        f"if no helm is still working on it, `{task} --recover --yes` {undo}; "
        f"by hand: `{remedy_command(release, plan_)}`",
    )


def age_seconds(updated: str, now: datetime.datetime) -> float | None:
    """Seconds since helm's `updated` time stamp (RFC 3339, nanoseconds), None if unreadable."""
    text = updated.strip().replace("Z", "+00:00")
    if "." in text:
        head, tail = text.split(".", 1)
        digits = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        stamp = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.UTC)
    return (now - stamp).total_seconds()


def recover(
    client: Helm,
    release: Release,
    plan_: Plan,
    ui: Console,
    changes: Changes,
    *,
    yes: bool,
    ask: Ask | None = None,
    now: datetime.datetime | None = None,
) -> None:
    """Roll a pending release back to its last deployed revision, or uninstall an install
    that never got deployed. Refuses while a helm may still be working on it."""
    last = plan_.last
    assert last is not None and last.pending
    now = now or datetime.datetime.now(datetime.UTC)
    age = age_seconds(last.updated, now)
    budget = operation_budget(release.timeout_seconds)
    if age is not None and age < budget:
        raise OperationFailed(
            f"release {release.namespace}/{release.name} became {last.status} {age:.0f}s ago; "
            f"a helm may still be working on it (its budget is {budget:.0f}s)",
            "wait for that helm to finish, or stop it; re-run with --recover once no helm "
            f"works on it (by hand: `{remedy_command(release, plan_)}`)",
        )
    target = plan_.deployed
    if target is not None:
        what = (
            f"roll release {release.namespace}/{release.name} back from revision "
            f"{last.revision} ({last.status}) to revision {target.revision} ({target.chart})"
        )
    else:
        what = (
            f"uninstall release {release.namespace}/{release.name}, which was never deployed "
            f"(revision {last.revision} is {last.status})"
        )
    if not changes.dry_run and not confirm_deletion(what, yes=yes, ask=ask):
        raise OperationFailed(f"not confirmed: {what}", "nothing was changed")
    if target is not None:
        number = target.revision
        changes.make(
            f"helm rollback {release.name} {number} --namespace {release.namespace} --wait",
            lambda: client.rollback(
                release.name,
                release.namespace,
                number,
                timeout_seconds=release.timeout_seconds,
            ),
        )
    else:
        changes.make(
            f"helm uninstall {release.name} --namespace {release.namespace} --wait",
            lambda: client.uninstall(
                release.name, release.namespace, timeout_seconds=release.timeout_seconds
            ),
        )
    if not changes.dry_run:
        ui.print(f"  recovered: {what}")


@dataclass(frozen=True)
class Recovery:
    """The deploy tasks' --recover option and how it is confirmed."""

    wanted: bool = False
    yes: bool = False
    ask: Ask | None = None
    now: Callable[[], datetime.datetime] | None = None


def settle(
    client: Helm,
    release: Release,
    ui: Console,
    changes: Changes,
    *,
    task: str,
    recovery: Recovery,
    normalise: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Plan:
    """plan(), and for a pending release either recover it (--recover) or fail with the
    history and the remedy. The plan returned is never "blocked"."""
    found = plan(client, release, normalise=normalise)
    if found.action != "blocked":
        return found
    for line in history_lines(release, found.revisions):
        ui.print(line)
    if not recovery.wanted:
        raise blocked(release, found, task)
    recover(
        client,
        release,
        found,
        ui,
        changes,
        yes=recovery.yes,
        ask=recovery.ask,
        now=recovery.now() if recovery.now else None,
    )
    if changes.dry_run:
        # After the (planned) rescue the release runs its last deployed revision, or
        # nothing; what follows is an upgrade or an install either way.
        action: Action = "upgrade" if found.deployed is not None else "install"
        return Plan(action, [f"after recovering from {found.last.status if found.last else ''}"])
    return plan(client, release, normalise=normalise)
