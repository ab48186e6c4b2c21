"""The Helm CLI, called the same way on helm 3 and helm 4.

Values always travel in a 0600 temporary file that is removed afterwards: the
values hold tokens and client secrets, and argv is readable by every user on
the machine (ps, /proc). Helm's own error text is redacted before it is shown.

A helm that installs, upgrades, rolls back or uninstalls is never killed. Its
`--timeout` applies to each operation on its own (helm/helm v4.1.4 pkg/cmd/upgrade.go:
"time to wait for any individual Kubernetes operation (like Jobs for hooks)"): the
pre-upgrade hooks, then the wait for the resources, then the post-upgrade hooks, so a
healthy z2jh upgrade (a pre-upgrade image-puller Job, then the wait) can take about
twice the timeout. The tool waits OPERATION_PHASES x --timeout + STARTUP_SECONDS and
only then sends SIGTERM, which helm handles by cancelling and recording the revision
as `failed` ("Release X has been cancelled."); it then reports the state the release
was left in. A SIGKILL would leave the revision `pending-upgrade`, and helm refuses
every later upgrade of such a release ("another operation (install/upgrade/rollback)
is in progress"); see core.releases for how that is detected and undone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .console import redact
from .errors import OperationFailed

SUPPORTED_MAJORS = (3, 4)
INSTALL_HINT = (
    "install helm 3 or 4 (https://helm.sh/docs/intro/install/) or set JHUB_HELM to its path"
)
_VERSION = re.compile(r"v?(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)")
# "Error: release: not found" (get values) and "...: release: not found" (uninstall),
# in helm 3 and 4 alike.
_NOT_FOUND = re.compile(r"release: not found", re.IGNORECASE)
# An install or upgrade runs up to three operations, each with --timeout to itself:
# pre-hooks (z2jh's hook-image-awaiter Job, kube-prometheus-stack's admission Job),
# the wait for the resources, post-hooks (kube-prometheus-stack's admission patch Job).
OPERATION_PHASES = 3
# Before its first operation helm fetches the chart from the repository, renders it and
# discovers the API; on a slow link that takes minutes.
STARTUP_SECONDS = 300
# After SIGTERM helm marks the revision failed and exits; it needs a few API calls.
TERM_GRACE_SECONDS = 60
# Reads (version, get values, list, history, show) finish in seconds on a healthy API.
READ_TIMEOUT_SECONDS = 120
PENDING_STATES = ("pending-install", "pending-upgrade", "pending-rollback")


def operation_budget(timeout_seconds: float) -> float:
    """How long a helm install/upgrade/rollback/uninstall with this --timeout may run."""
    return OPERATION_PHASES * timeout_seconds + STARTUP_SECONDS


@dataclass(frozen=True)
class HelmVersion:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class ReleaseStatus:
    """One installed release, as `helm list` reports it."""

    name: str
    namespace: str
    revision: int
    status: str
    chart: str
    app_version: str
    updated: str

    @property
    def chart_version(self) -> str:
        return _chart_version(self.chart)


@dataclass(frozen=True)
class Revision:
    """One revision of a release, as `helm history -o json` reports it (helm 3 and 4:
    revision, updated, status, chart, app_version, description)."""

    revision: int
    status: str
    chart: str
    app_version: str
    updated: str
    description: str

    @property
    def chart_version(self) -> str:
        return _chart_version(self.chart)

    @property
    def pending(self) -> bool:
        return self.status in PENDING_STATES


def _chart_version(chart: str) -> str:
    # "jupyterhub-4.4.0" -> "4.4.0" (chart names may contain dashes, versions start
    # with a digit or v).
    match = re.search(r"-(v?\d[^-]*(?:-[^-]+)*)$", chart)
    return match.group(1) if match else ""


class HelmStopped(OperationFailed):
    """helm ran past its budget and was sent SIGTERM (never SIGKILL)."""


def parse_version(text: str) -> HelmVersion:
    """The version in `helm version --short` output (v3.14.2+gc309b6f, v4.1.4+g05fa379)."""
    match = _VERSION.search(text)
    if not match:
        raise OperationFailed(f"cannot read a helm version from {text.strip()!r}", INSTALL_HINT)
    return HelmVersion(int(match["major"]), int(match["minor"]), int(match["patch"]))


def find_binary() -> str:
    """JHUB_HELM if set, else the first helm on PATH."""
    configured = os.environ.get("JHUB_HELM")
    if configured:
        if not (Path(configured).is_file() and os.access(configured, os.X_OK)):
            raise OperationFailed(f"JHUB_HELM={configured} is not an executable file", INSTALL_HINT)
        return configured
    found = shutil.which("helm")
    if found is None:
        raise OperationFailed("helm is not on PATH", INSTALL_HINT)
    return found


def duration(seconds: int) -> str:
    """Seconds as a Go duration, the form helm's --timeout takes."""
    return f"{seconds}s"


@dataclass(frozen=True)
class Helm:
    """helm, pointed at one cluster through a kubeconfig file (None: helm's default)."""

    kubeconfig: Path | None = None
    binary: str = ""

    def _argv(self, args: Sequence[str]) -> list[str]:
        argv = [self.binary or find_binary(), *args]
        if self.kubeconfig is not None:
            if self.kubeconfig.exists() or self.kubeconfig.is_symlink():
                from .kube import check_kubeconfig

                # The same one-line refusal as the Python client's, before helm runs.
                check_kubeconfig(self.kubeconfig)
            argv += ["--kubeconfig", str(self.kubeconfig)]
        return argv

    def _run(
        self,
        args: Sequence[str],
        *,
        timeout: float = READ_TIMEOUT_SECONDS,
        operation: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run helm; past `timeout` stop it with SIGTERM and wait for it to finish.

        An operation (install, upgrade, rollback, uninstall) that does not end after
        SIGTERM is left running rather than killed, since a killed helm leaves its
        release pending; a read may be killed, it changes nothing.
        """
        argv = self._argv(args)
        try:
            process = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        except FileNotFoundError:
            raise OperationFailed(f"cannot run {argv[0]}", INSTALL_HINT) from None
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
            try:
                out, err = process.communicate(timeout=TERM_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                if not operation:
                    process.kill()
                    process.communicate()
                raise HelmStopped(
                    f"helm {args[0]} did not finish within {timeout:.0f}s and did not stop "
                    f"within {TERM_GRACE_SECONDS}s of SIGTERM"
                    + (f"; it is left running (pid {process.pid})" if operation else ""),
                    "check that the cluster answers (`invoke cluster.check`), then re-run",
                ) from None
            raise HelmStopped(
                f"helm {args[0]} did not finish within {timeout:.0f}s and was stopped "
                f"with SIGTERM (exit {process.returncode}): {redact(_last_lines(err or out))}",
                "check that the cluster answers (`invoke cluster.check`), then re-run",
            ) from None
        return subprocess.CompletedProcess(argv, process.returncode, out, err)

    def _failed(self, action: str, result: subprocess.CompletedProcess[str]) -> OperationFailed:
        message = _last_lines(result.stderr or result.stdout)
        return OperationFailed(
            f"helm {action} failed (exit {result.returncode}): {redact(message)}",
            "read helm's message above; re-run with --debug for the full command output",
        )

    def version(self) -> HelmVersion:
        result = self._run(["version", "--short"])
        if result.returncode != 0:
            raise self._failed("version", result)
        found = parse_version(result.stdout)
        if found.major not in SUPPORTED_MAJORS:
            raise OperationFailed(f"helm {found} is not supported", INSTALL_HINT)
        return found

    def get_values(self, release: str, namespace: str) -> dict[str, Any] | None:
        """The user-supplied values of a release; None when there is no such release."""
        result = self._run(["get", "values", release, "--namespace", namespace, "-o", "json"])
        if result.returncode != 0:
            if _NOT_FOUND.search(result.stderr):
                return None
            raise self._failed("get values", result)
        parsed = json.loads(result.stdout or "null")
        # A release installed without values prints "null".
        return parsed if isinstance(parsed, dict) else {}

    def status(self, release: str, namespace: str) -> ReleaseStatus | None:
        """Revision, state, chart and app version of a release; None when not installed."""
        pattern = f"^{re.escape(release)}$"
        # Every live state, named one by one: helm 3's --all is gone in helm 4, and
        # without state flags a release stuck in pending-upgrade would not be listed.
        states = ["--deployed", "--failed", "--pending", "--uninstalling"]
        result = self._run(
            ["list", "--namespace", namespace, *states, "--filter", pattern, "-o", "json"]
        )
        if result.returncode != 0:
            raise self._failed("list", result)
        for entry in json.loads(result.stdout or "[]") or []:
            if entry.get("name") == release:
                return ReleaseStatus(
                    name=release,
                    namespace=str(entry.get("namespace", namespace)),
                    revision=int(entry.get("revision", 0)),
                    status=str(entry.get("status", "")),
                    chart=str(entry.get("chart", "")),
                    app_version=str(entry.get("app_version", "")),
                    updated=str(entry.get("updated", "")),
                )
        return None

    def upgrade_install(
        self,
        release: str,
        chart: str,
        *,
        repo: str,
        version: str,
        namespace: str,
        values: dict[str, Any],
        wait: bool = True,
        timeout_seconds: int = 900,
    ) -> None:
        """`helm upgrade --install` with the values in a private temporary file."""
        with values_file(values) as path:
            args = ["upgrade", "--install", release, chart, "--namespace", namespace]
            if repo:
                args += ["--repo", repo]
            if version:
                args += ["--version", version]
            args += ["--values", str(path), "--timeout", duration(timeout_seconds)]
            if wait:
                args.append("--wait")
            self._operation(args, release, namespace, timeout_seconds)

    def uninstall(
        self, release: str, namespace: str, *, wait: bool = True, timeout_seconds: int = 600
    ) -> bool:
        """Remove a release; False when it was not installed."""
        args = ["uninstall", release, "--namespace", namespace, "--timeout"]
        args.append(duration(timeout_seconds))
        if wait:
            args.append("--wait")
        result = self._run(args, timeout=operation_budget(timeout_seconds), operation=True)
        if result.returncode != 0:
            if _NOT_FOUND.search(result.stderr):
                return False
            raise self._failed(f"uninstall {release}", result)
        return True

    def rollback(
        self,
        release: str,
        namespace: str,
        revision: int,
        *,
        wait: bool = True,
        timeout_seconds: int = 900,
    ) -> None:
        """`helm rollback RELEASE REVISION`: a new revision with that revision's chart and
        values (helm/helm v4.1.4 pkg/action/rollback.go; it does not refuse a pending
        release, which is what makes it the remedy for one)."""
        args = ["rollback", release, str(revision), "--namespace", namespace]
        args += ["--timeout", duration(timeout_seconds)]
        if wait:
            args.append("--wait")
        self._operation(args, release, namespace, timeout_seconds)

    def history(self, release: str, namespace: str, *, limit: int = 10) -> list[Revision] | None:
        """The last revisions of a release, oldest first; None when there is no release."""
        result = self._run(
            ["history", release, "--namespace", namespace, "--max", str(limit), "-o", "json"]
        )
        if result.returncode != 0:
            if _NOT_FOUND.search(result.stderr):
                return None
            raise self._failed("history", result)
        return [
            Revision(
                revision=int(entry.get("revision", 0)),
                status=str(entry.get("status", "")),
                chart=str(entry.get("chart", "")),
                app_version=str(entry.get("app_version", "")),
                updated=str(entry.get("updated", "")),
                description=str(entry.get("description", "")),
            )
            for entry in json.loads(result.stdout or "[]") or []
        ]

    def show_crds(self, chart: str, *, repo: str, version: str) -> str:
        """`helm show crds`: the CRDs a chart version ships (its own and its subcharts')."""
        args = ["show", "crds", chart]
        if repo:
            args += ["--repo", repo]
        if version:
            args += ["--version", version]
        result = self._run(args)
        if result.returncode != 0:
            raise self._failed(f"show crds {chart} {version}", result)
        return result.stdout

    def _operation(
        self, args: list[str], release: str, namespace: str, timeout_seconds: int
    ) -> None:
        """Run a mutating helm command with its whole budget; say what state it left."""
        budget = operation_budget(timeout_seconds)
        try:
            result = self._run(args, timeout=budget, operation=True)
        except HelmStopped as stopped:
            raise HelmStopped(
                f"{stopped.cause}; {self._left_in(release, namespace)}",
                f"the budget was {OPERATION_PHASES} x --timeout {timeout_seconds}s + "
                f"{STARTUP_SECONDS}s start-up; see `kubectl get pods -n {namespace}` for what "
                "it waited on, then re-run (a pending release needs the deploy task's "
                "--recover option)",
            ) from None
        if result.returncode != 0:
            verb = "upgrade --install" if args[:2] == ["upgrade", "--install"] else args[0]
            raise self._failed(f"{verb} {release}", result)

    def _left_in(self, release: str, namespace: str) -> str:
        try:
            revisions = self.history(release, namespace, limit=1)
        except OperationFailed:
            return f"the state of release {release} could not be read"
        if not revisions:
            return f"release {release} is not installed"
        last = revisions[-1]
        return f"release {release} is left {last.status} (revision {last.revision})"

    def template(self, release: str, chart: str, *, namespace: str, values: dict[str, Any]) -> str:
        """`helm template` of a local chart directory, for offline checks of our values."""
        with values_file(values) as path:
            result = self._run(
                ["template", release, chart, "--namespace", namespace, "--values", str(path)]
            )
        if result.returncode != 0:
            raise self._failed(f"template {release}", result)
        return result.stdout


@contextmanager
def values_file(values: dict[str, Any]) -> Iterator[Path]:
    """A 0600 YAML file holding values for the duration of one helm call."""
    # mkstemp creates the file with mode 0600 from the start, so there is no moment
    # in which another user could open it.
    descriptor, name = tempfile.mkstemp(prefix="jhub-values-", suffix=".yaml")
    path = Path(name)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            yaml.safe_dump(values, handle, sort_keys=False, allow_unicode=True)
        yield path
    finally:
        path.unlink(missing_ok=True)


def _last_lines(text: str, count: int = 6) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "(no output)"
