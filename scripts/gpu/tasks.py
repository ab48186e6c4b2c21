"""invoke gpu.*: driver image, GPU operator, CSI toleration, status."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from ..core.options import ENV_HELP
from ..core.runner import procedure


@task(
    help={
        "env": ENV_HELP,
        "fedora-version": "Fedora release of the GPU nodes, e.g. 42 "
        "(default: gpu.driver.fedora_version)",
        "driver-version": "NVIDIA driver version, e.g. 580.95.05 (default: gpu.driver.version)",
        "push": "push to gpu.driver.registry after building (--no-push: build only)",
        "context": "build context holding the Dockerfile (default: gpu_driver/)",
        "dry-run": "say what would be built and pushed; talk to no daemon",
    }
)
@procedure
def build_driver(  # noqa: PLR0917 - invoke maps each keyword to an option
    c: Context,
    env: str = "",
    fedora_version: str = "",
    driver_version: str = "",
    push: bool = True,
    context: str = "",
    dry_run: bool = False,
) -> None:
    """Build the NVIDIA driver image for Fedora CoreOS nodes and push it to the registry."""
    from ..core import session
    from . import build_driver as builder

    # A dry run talks to no daemon or registry, so it may show the example's placeholders.
    environment, ui = session.begin(env, require_secrets=False, offline=dry_run)
    build = builder.plan(
        environment,
        fedora_version=fedora_version,
        driver_version=driver_version,
        push=push,
        context=context,
    )
    builder.run(environment, build, ui, dry_run)


@task(
    help={
        "env": ENV_HELP,
        "dry-run": "show what would change; change nothing",
        "recover": "a release left pending-install/-upgrade/-rollback by an interrupted helm: "
        "roll it back to its last deployed revision (or uninstall an install never deployed) "
        "first",
        "yes": "with --recover: roll back or uninstall without asking",
    }
)
@procedure
def deploy(
    c: Context, env: str = "", dry_run: bool = False, recover: bool = False, yes: bool = False
) -> None:
    """Install or update the GPU operator (namespace, PriorityClass workaround, release)."""
    from ..core import session
    from ..core.releases import Recovery
    from . import deploy as operator

    environment, ui = session.begin(env, require_secrets=False)
    operator.deploy(environment, ui, dry_run, recovery=Recovery(wanted=recover, yes=yes))


@task(
    help={
        "env": ENV_HELP,
        "dry-run": "show the patch; change nothing",
        "timeout": "seconds to wait for the plugin on every node (default 600)",
    }
)
@procedure
def fix_csi(c: Context, env: str = "", dry_run: bool = False, timeout: int = 600) -> None:
    """Let csi-cinder-nodeplugin run on tainted GPU nodes (toleration operator: Exists)."""
    from ..core import session
    from ..core.errors import bad_option
    from . import fix_csi as csi

    if timeout <= 0:
        raise bad_option("--timeout", f"must be a positive number of seconds (got {timeout})")
    environment, ui = session.begin(env, require_secrets=False)
    csi.fix_csi(environment, ui, dry_run=dry_run, timeout=float(timeout))


@task(help={"env": ENV_HELP})
@procedure
def status(c: Context, env: str = "") -> None:
    """GPU nodes (capacity, allocatable), operator pods and the driver version they report."""
    from ..core import session
    from . import status as report

    environment, ui = session.begin(env, require_secrets=False)
    report.status(environment, ui)


ns = Collection("gpu", build_driver, deploy, fix_csi, status)
