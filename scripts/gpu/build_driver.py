"""Build the NVIDIA driver image from gpu_driver/ and push it to the cluster's registry.

The seed did this with a playbook around `docker build` and `docker push`. Here the
Docker SDK talks to the daemon directly. Both build and push report failures inside
their JSON stream ({"error": ..., "errorDetail": ...}) while the HTTP call itself
succeeds, so every chunk is checked: a failed push must not look like a success.

Registry credentials come from the Docker configuration (`docker login`, credential
helpers, $DOCKER_CONFIG) or from JHUB_REGISTRY_USERNAME / JHUB_REGISTRY_PASSWORD in
the environment; they never appear on a command line or in the output.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import input_files
from ..core.changes import Changes
from ..core.console import Console
from ..core.errors import BadInput, OperationFailed, Problem, bad_option
from ..core.loading import Environment
from ..core.paths import ROOT
from . import dockerfile

if TYPE_CHECKING:
    import docker

DEFAULT_CONTEXT = ROOT / "gpu_driver"
BUILD_ARGS = ("FEDORA_VERSION", "DRIVER_VERSION")
USERNAME_VARIABLE = "JHUB_REGISTRY_USERNAME"
PASSWORD_VARIABLE = "JHUB_REGISTRY_PASSWORD"
# A real driver build compiles nothing but downloads and installs a few hundred MB.
DOCKER_TIMEOUT_SECONDS = 1800

_FEDORA = re.compile(r"^\d{2}$")
_DRIVER = re.compile(r"^\d+(\.\d+){1,2}$")
# Docker's reference grammar: an optional host[:port], then lower-case path components.
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*(?::\d+)?)"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REGISTRY = re.compile(rf"^{_HOST}(?:/{_COMPONENT})*$")


@dataclass(frozen=True)
class BuildPlan:
    context: Path
    repository: str
    tag: str
    build_args: dict[str, str]
    push: bool

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"


def plan(
    environment: Environment,
    *,
    fedora_version: str,
    driver_version: str,
    push: bool,
    context: str,
) -> BuildPlan:
    """Check options, config and the build context before the daemon is asked anything."""
    driver = environment.settings.gpu.driver
    fedora = fedora_version or driver.fedora_version
    version = driver_version or driver.version
    problems: list[Problem] = []
    if not _FEDORA.match(fedora):
        problems += bad_option(
            "--fedora-version", f"must be a two-digit Fedora release such as 42 (got {fedora!r})"
        ).problems
    if not _DRIVER.match(version):
        problems += bad_option(
            "--driver-version", f"must be a driver version such as 580.95.05 (got {version!r})"
        ).problems
    registry = driver.registry.rstrip("/")
    if registry.startswith(("http://", "https://")):
        problems.append(
            Problem(
                "gpu.driver.registry",
                f"{registry!r} has a URL scheme; write the registry as host[:port]/path, "
                "e.g. harbor.example.org/nvidia",
            )
        )
    elif registry and not _REGISTRY.match(registry):
        problems.append(
            Problem(
                "gpu.driver.registry",
                f"{registry!r} is not a registry path; use host[:port]/path with lower-case "
                "path components, e.g. harbor.example.org/nvidia",
            )
        )
    elif not registry and push:
        problems.append(
            Problem(
                "gpu.driver.registry",
                "empty, so there is nowhere to push; set the registry the GPU nodes pull from "
                "(e.g. harbor.example.org/nvidia), or build locally with --no-push",
            )
        )
    problems += _context_problems(Path(context) if context else DEFAULT_CONTEXT)
    problems += _credential_problems()
    if problems:
        raise BadInput(problems)
    return BuildPlan(
        context=(Path(context) if context else DEFAULT_CONTEXT).resolve(),
        repository=f"{registry}/{driver.image}" if registry else driver.image,
        tag=f"{version}-fedora{fedora}",
        build_args={"FEDORA_VERSION": fedora, "DRIVER_VERSION": version},
        push=push,
    )


def _context_problems(context: Path) -> list[Problem]:
    recipe = context / "Dockerfile"
    if not context.is_dir():
        return bad_option("--context", f"{context} is not a directory").problems
    if not recipe.is_file():
        return bad_option("--context", f"{context} has no Dockerfile").problems
    try:
        text = input_files.read_text(recipe, "option --context")
    except BadInput as error:
        return error.problems
    declared = dockerfile.parse(text).declared_args()
    missing = [name for name in BUILD_ARGS if name not in declared]
    if missing:
        # The classic builder only warns about unused build arguments; the image would
        # carry a tag naming versions it was not built with.
        return bad_option(
            "--context",
            f"{recipe} declares no ARG {' or '.join(missing)}; gpu.build-driver passes "
            f"{' and '.join(BUILD_ARGS)} and names the image after them",
        ).problems
    return []


def _credential_problems() -> list[Problem]:
    username = os.environ.get(USERNAME_VARIABLE, "")
    password = os.environ.get(PASSWORD_VARIABLE, "")
    if bool(username) != bool(password):
        present, absent = (
            (USERNAME_VARIABLE, PASSWORD_VARIABLE)
            if username
            else (PASSWORD_VARIABLE, USERNAME_VARIABLE)
        )
        return [
            Problem(
                f"environment {absent}",
                f"unset while {present} is set; set both, or neither to use `docker login`",
            )
        ]
    return []


def _auth_config() -> dict[str, str] | None:
    """Credentials from the environment, else None: the SDK then reads the Docker config."""
    username = os.environ.get(USERNAME_VARIABLE, "")
    password = os.environ.get(PASSWORD_VARIABLE, "")
    if username and password:
        return {"username": username, "password": password}
    return None


def run(environment: Environment, build: BuildPlan, ui: Console, dry_run: bool) -> None:
    """Build, then push; each step fails with the daemon's own message."""
    ui.add_secrets([os.environ.get(PASSWORD_VARIABLE, "")])
    changes = Changes(ui, dry_run)
    arguments = ", ".join(f"{key}={value}" for key, value in build.build_args.items())
    driver = environment.settings.gpu.driver

    if dry_run:
        with ui.step(f"Build {build.reference}") as step:
            changes.make(f"build {build.context} with {arguments}", lambda: None)
            step.planned(arguments)
        with ui.step(f"Push {build.reference}") as step:
            if build.push:
                changes.make(f"push {build.reference}", lambda: None)
                step.planned()
            else:
                step.skipped("--no-push")
        ui.summary([f"dry run: nothing was built or pushed; {len(changes.made)} action(s) listed"])
        return

    client = _connect()
    try:
        with ui.step(f"Build {build.reference}") as step:
            image_id = _build(client, build, ui)
            step.done(f"{arguments}; image {image_id[:19]}")
        with ui.step(f"Push {build.reference}") as step:
            if not build.push:
                step.skipped("--no-push")
            else:
                digest = _push(client, build, ui)
                step.done(digest)
    finally:
        client.close()

    lines = [f"image: {build.reference}"]
    if build.tag != driver.tag or not driver.custom:
        lines.append(
            "to use it, set in config/"
            f"{environment.name}.yaml: gpu.driver.custom: true, "
            f"version: {build.build_args['DRIVER_VERSION']!r}, "
            f"fedora_version: {build.build_args['FEDORA_VERSION']!r}"
        )
    lines.append(f"then: invoke gpu.deploy --env {environment.name}")
    ui.summary(lines)


def _connect() -> docker.DockerClient:
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=DOCKER_TIMEOUT_SECONDS)
        client.ping()
    except DockerException as error:
        raise OperationFailed(
            f"cannot reach the Docker daemon: {error}",
            "start Docker (dockerd) or point DOCKER_HOST at a daemon you may use, then re-run",
        ) from None
    return client


def _build(client: docker.DockerClient, build: BuildPlan, ui: Console) -> str:
    from docker.errors import APIError

    try:
        stream = client.api.build(
            path=str(build.context),
            tag=build.reference,
            buildargs=build.build_args,
            rm=True,
            forcerm=True,
            decode=True,
        )
        image_id = ""
        for line, chunk in _lines(stream):
            if chunk is not None:
                _raise_stream_error("build", chunk, build)
                image_id = str((chunk.get("aux") or {}).get("ID") or image_id)
            if line:
                ui.print(f"  {line}", style="dim" if not line.startswith("Step ") else None)
        # The legacy builder reports the ID in an aux chunk; inspect as the final word.
        inspected = client.api.inspect_image(build.reference)
    except APIError as error:
        raise OperationFailed(
            f"docker build of {build.reference} failed: {_explain(error)}",
            f"fix the cause above in {build.context}, then re-run",
        ) from None
    return str(inspected.get("Id") or image_id)


def _push(client: docker.DockerClient, build: BuildPlan, ui: Console) -> str:
    from docker.errors import APIError

    auth = _auth_config()
    try:
        stream = client.api.push(
            build.repository,
            tag=build.tag,
            stream=True,
            decode=True,
            auth_config=auth,
        )
        digest = ""
        layer_states: dict[str, str] = {}
        for chunk in stream:
            _raise_stream_error("push", chunk, build)
            aux = chunk.get("aux") or {}
            digest = str(aux.get("Digest") or digest)
            status, layer = str(chunk.get("status") or ""), str(chunk.get("id") or "")
            if not status or status in {"Pushing", "Preparing", "Waiting"}:
                continue  # byte counts; one line per layer state is enough
            if layer and layer_states.get(layer) == status:
                continue
            if layer:
                layer_states[layer] = status
                ui.print(f"  {layer}: {status}", style="dim")
            else:
                ui.print(f"  {status}")
    except APIError as error:
        raise OperationFailed(
            f"docker push of {build.reference} failed: {_explain(error)}",
            _push_remedy(build),
        ) from None
    if not digest:
        raise OperationFailed(
            f"docker push of {build.reference} ended without a digest from the registry",
            _push_remedy(build),
        )
    return digest


def _lines(stream: Iterable[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """Build output as whole lines (the daemon splits them across chunks), plus each chunk."""
    pending = ""
    for chunk in stream:
        yield "", chunk
        text = chunk.get("stream")
        if not isinstance(text, str):
            status = chunk.get("status")
            if isinstance(status, str) and status:
                # Pulling a base image: status lines, one per layer state.
                layer = chunk.get("id")
                yield (f"{layer}: {status}" if layer else status), None
            continue
        pending += text
        *complete, pending = pending.split("\n")
        for line in complete:
            if line.strip():
                yield line.rstrip(), None
    if pending.strip():
        yield pending.rstrip(), None


def _raise_stream_error(action: str, chunk: dict[str, Any], build: BuildPlan) -> None:
    detail = chunk.get("errorDetail")
    message = chunk.get("error") or (detail.get("message") if isinstance(detail, dict) else None)
    if not message and not detail:
        return
    text = str(message or detail).strip()
    if action == "build":
        raise OperationFailed(
            f"docker build of {build.reference} failed: {text}",
            f"the daemon's message is above; fix the cause in {build.context}, then re-run",
        )
    raise OperationFailed(f"docker push of {build.reference} failed: {text}", _push_remedy(build))


def _push_remedy(build: BuildPlan) -> str:
    host = build.repository.split("/", 1)[0]
    return (
        f"check that {host} is up and reachable from the Docker daemon, and that you may push "
        f"there (`docker login {host}`, or set {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}); "
        "then re-run: layers already pushed are not sent again"
    )


def _explain(error: Exception) -> str:
    explanation = getattr(error, "explanation", None)
    return str(explanation or error)
