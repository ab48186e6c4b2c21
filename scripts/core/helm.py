"""The Helm CLI, called the same way on helm 3 and helm 4.

Values always travel in a 0600 temporary file that is removed afterwards: the
values hold tokens and client secrets, and argv is readable by every user on
the machine (ps, /proc). Helm's own error text is redacted before it is shown.
"""

from __future__ import annotations

import json
import os
import re
import shutil
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
# Extra seconds we allow helm beyond its own --timeout before we give up on the process.
_PROCESS_GRACE = 120


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
        # "jupyterhub-4.4.0" -> "4.4.0" (chart names may contain dashes, versions start
        # with a digit or v).
        match = re.search(r"-(v?\d[^-]*(?:-[^-]+)*)$", self.chart)
        return match.group(1) if match else ""


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
        self, args: Sequence[str], *, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        argv = self._argv(args)
        try:
            return subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise OperationFailed(f"cannot run {argv[0]}", INSTALL_HINT) from None
        except subprocess.TimeoutExpired:
            raise OperationFailed(
                f"helm {args[0]} did not finish within {timeout:.0f}s",
                "check that the cluster answers (`invoke cluster.check`), then re-run",
            ) from None

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
            result = self._run(args, timeout=timeout_seconds + _PROCESS_GRACE)
        if result.returncode != 0:
            raise self._failed(f"upgrade --install {release}", result)

    def uninstall(
        self, release: str, namespace: str, *, wait: bool = True, timeout_seconds: int = 600
    ) -> bool:
        """Remove a release; False when it was not installed."""
        args = ["uninstall", release, "--namespace", namespace, "--timeout"]
        args.append(duration(timeout_seconds))
        if wait:
            args.append("--wait")
        result = self._run(args, timeout=timeout_seconds + _PROCESS_GRACE)
        if result.returncode != 0:
            if _NOT_FOUND.search(result.stderr):
                return False
            raise self._failed(f"uninstall {release}", result)
        return True

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
