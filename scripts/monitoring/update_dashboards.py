"""`invoke monitoring.dashboards`: check, rebuild or publish the Grafana dashboards.

Without options it checks that the committed dashboards/*.json equal a fresh
build (what CI checks too). --build rewrites them from the Python definitions;
--apply updates the ConfigMaps Grafana's sidecar reads, which Grafana picks up
within a minute and without a Helm upgrade or restart.
"""

from __future__ import annotations

from pathlib import Path

from ..core import kube
from ..core.changes import Changes
from ..core.console import Console
from ..core.errors import OperationFailed
from ..core.loading import Environment
from . import dashboards


def check_or_build(
    ui: Console, *, build: bool, dry_run: bool, directory: Path = dashboards.DASHBOARD_DIR
) -> None:
    writing = build and not dry_run
    title = "rebuild dashboards/*.json" if build else "committed dashboards equal a fresh build"
    with ui.step(title) as step:
        results = dashboards.write(directory, dry_run=not writing)
        stale = [r.path.name for r in results if r.changed]
        if not stale:
            step.unchanged(f"{len(results)} dashboards up to date")
        elif writing:
            step.done(f"wrote {', '.join(stale)}")
        elif build:
            step.planned(f"would write {', '.join(stale)}")
        else:
            raise OperationFailed(
                f"dashboards/{', dashboards/'.join(stale)} differ from a fresh build",
                "run `invoke monitoring.dashboards --build` and commit the result",
            )


def publish(ui: Console, environment: Environment, *, dry_run: bool) -> None:
    settings = environment.settings
    changes = Changes(ui, dry_run)
    api = kube.api_client(environment.kubeconfig)
    folder = settings.monitoring.dashboards_folder
    with ui.step(
        f"dashboard ConfigMaps in {settings.monitoring.namespace} (folder {folder!r})"
    ) as step:
        outcomes = dashboards.apply(api, settings, changes)
        changed = sorted(name for name, outcome in outcomes.items() if outcome != "unchanged")
        if not changed:
            step.unchanged(f"{len(outcomes)} ConfigMaps as committed")
        elif dry_run:
            step.planned(", ".join(changed))
        else:
            step.done(", ".join(changed))


def run(ui: Console, *, build: bool, environment: Environment | None, dry_run: bool) -> None:
    # Publishing what is committed is the point of --apply alone, so the check is
    # skipped there: a stale build is an author's problem, not an operator's.
    if build or environment is None:
        check_or_build(ui, build=build, dry_run=dry_run)
    if environment is not None:
        publish(ui, environment, dry_run=dry_run)
    ui.summary()
