"""Nox sessions: lint, typecheck, tests, integration (kind), cloud-smoke (a real cloud)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
PYTHON = "3.11"


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: style and common bugs; the house rules a reading of the source can check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # Import contracts, task shape, the one --env help (stdlib only, no install needed);
    # tests/test_house_rules.py asserts the same in the suite.
    session.run("python", "-m", "tests.support.house_rules")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over scripts/, tests/, benchmarks/, tasks.py and this file.

    The list is `files` in pyproject.toml's [tool.mypy], so a bare `mypy` checks the same.
    """
    session.install("-e", ".[test]")
    session.run("mypy")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole suite (what CI runs); extra arguments go to pytest."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """The stack on a local kind cluster: needs docker and kind on this machine."""
    missing = [tool for tool in ("docker", "kind", "kubectl", "helm") if shutil.which(tool) is None]
    if missing:
        session.skip(
            f"integration needs {', '.join(missing)} on PATH "
            "(kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
        )
    if not Path("tests/integration").is_dir():
        session.skip("no kind integration tests in this checkout yet (tests/integration)")
    session.install("-e", ".[test]")
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/integration",
        *session.posargs,
        env={"JHUB_INTEGRATION": "1"},
    )


@nox.session(python=PYTHON)
def dashboards(session: nox.Session) -> None:
    """Rebuild dashboards/*.json from Python (grafana-foundation-sdk, pinned)."""
    session.install("-e", ".[test]")
    session.run("invoke", "monitoring.dashboards", "--build")


# No virtualenv: the refusal comes first, and the suite runs the tool as the operator has
# it installed (the same environment a production change is made from).
@nox.session(venv_backend="none", name="cloud-smoke")
def cloud_smoke(session: nox.Session) -> None:
    """A real cloud: deploy, check, destroy a throw-away `smoke-*` environment (docs/smoke.md).

    Never part of the default sessions. Refuses (exit 2) before any API call without
    OS_CLOUD and an environment name starting with `smoke-`.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from scripts import smoke

    refused = smoke.refusal(session.posargs, os.environ)
    if refused is not None:
        print(f"cloud-smoke refused: {refused.problems[0]}", file=sys.stderr)
        raise SystemExit(2)
    session.run(sys.executable, "-m", "scripts.smoke", *session.posargs, external=True)
