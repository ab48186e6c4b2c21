"""`invoke doctor`: is this machine ready to run the tasks for an environment?"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .core import input_files
from .core.errors import BadInput
from .core.loading import Environment

PYTHON_PACKAGES = (
    "invoke",
    "openstacksdk",
    "python-magnumclient",
    "kubernetes",
    "jinja2",
    "docker",
    "pydantic",
    "PyYAML",
    "rich",
    "dnspython",
)
HELM_MAJORS = (3, 4)
CLOUDS_YAML_PLACES = (
    Path("clouds.yaml"),
    Path("~/.config/openstack/clouds.yaml").expanduser(),
    Path("/etc/openstack/clouds.yaml"),
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""
    required: bool = True


def python_packages() -> list[Check]:
    found = []
    for package in PYTHON_PACKAGES:
        try:
            version = importlib.metadata.version(package)
            found.append(Check(f"python: {package}", True, version))
        except importlib.metadata.PackageNotFoundError:
            found.append(Check(f"python: {package}", False, "missing", "pip install -e ."))
    return found


def helm_major(version_output: str) -> int | None:
    """Major version from `helm version --short` (v3.16.2+g13654a5, v4.1.4+g05fa379)."""
    match = re.search(r"v(\d+)\.\d+", version_output)
    return int(match.group(1)) if match else None


def helm(binary: str | None = None) -> Check:
    path = binary or shutil.which("helm")
    hint = "install Helm 3 or 4: https://helm.sh/docs/intro/install/"
    if not path:
        return Check("helm", False, "not on PATH", hint)
    try:
        output = subprocess.run(
            [path, "version", "--short"], capture_output=True, text=True, timeout=20, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        return Check("helm", False, f"{path} did not run: {error}", hint)
    major = helm_major(output)
    if major not in HELM_MAJORS:
        return Check("helm", False, f"{output} (need major 3 or 4)", hint)
    return Check("helm", True, f"{output} at {path}")


def optional_tool(name: str, hint: str) -> Check:
    path = shutil.which(name)
    return Check(name, bool(path), path or "not on PATH (optional)", hint, required=False)


def clouds_yaml_entry(cloud: str, places: tuple[Path, ...] = CLOUDS_YAML_PLACES) -> Check:
    override = os.environ.get("OS_CLIENT_CONFIG_FILE")
    candidates = (Path(override),) if override else places
    for path in candidates:
        if not path.is_file():
            continue
        try:
            # Only the line and the parser's complaint: clouds.yaml holds passwords.
            data = input_files.read_yaml(path) or {}
        except BadInput as error:
            return Check("clouds.yaml", False, "; ".join(str(p) for p in error.problems))
        if not isinstance(data, dict):
            return Check("clouds.yaml", False, f"{path} is not a mapping with a 'clouds' key")
        if cloud in (data.get("clouds") or {}):
            return Check("clouds.yaml", True, f"entry {cloud!r} in {path}")
    searched = ", ".join(str(p) for p in candidates)
    return Check(
        "clouds.yaml",
        False,
        f"no entry {cloud!r} in {searched}",
        "download clouds.yaml from the dashboard (API Access) and name the entry as `cloud:`",
    )


def kubeconfig(environment: Environment) -> Check:
    path = environment.kubeconfig
    if environment.settings.cluster.driver != "existing" and not path.exists():
        return Check(
            "kubeconfig",
            False,
            f"{path} not written yet",
            f"after cluster.deploy: invoke cluster.kubeconfig --env {environment.name}",
            required=False,
        )
    if not path.is_file() or not os.access(path, os.R_OK):
        return Check("kubeconfig", False, f"{path} is not readable", "set cluster.kubeconfig")
    return Check("kubeconfig", True, str(path))


def run_checks(environment: Environment) -> list[Check]:
    checks = [*python_packages(), helm()]
    checks.append(optional_tool("kubectl", "optional: for hands-on debugging"))
    checks.append(optional_tool("docker", "optional: needed by gpu.build-driver"))
    if environment.settings.cluster.driver != "existing":
        checks.append(clouds_yaml_entry(environment.settings.cloud))
    checks.append(kubeconfig(environment))
    return checks
