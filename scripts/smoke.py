"""The real-cloud smoke suite (`nox -s cloud-smoke -- smoke-<name>`): deploy, check, destroy.

Against a real OpenStack project, in a throw-away environment whose name starts with
`smoke-`, with the smallest cluster its config allows (one master, one default worker,
no extra node group, no GPU group):

    deploy --no-health → hub.health → status → lb.doctor → destroy --yes --no-backup

Each step is an `invoke` command run as its own process (`python -m scripts.cli ...`,
as an operator would type it), so the suite exercises exactly what an operator runs;
the runner is injectable, and the tests run the same commands in-process against the
fake cloud. Every step is reported with its duration. Once `deploy` has started,
`destroy --yes` runs whatever happened (a failed step, Ctrl-C), and the report says
what is left in the project when destroy did not finish.

Refusals (exit 2, one line, before any API call): no OS_CLOUD, no environment name,
a name not starting with `smoke-`, a config that is not the smallest cluster.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .core.errors import BadInput, Problem
from .core.waiting import Clock, RealClock

PREFIX = "smoke-"
ROOT = Path(__file__).resolve().parents[1]

# argv (without the program name) → exit code
Runner = Callable[[Sequence[str]], int]


@dataclass(frozen=True)
class StepResult:
    name: str
    argv: tuple[str, ...]
    code: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.code == 0


@dataclass
class SmokeReport:
    env: str
    steps: list[StepResult] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps) and not self.interrupted

    def lines(self) -> list[str]:
        out = [f"cloud smoke of environment {self.env}:"]
        for step in self.steps:
            mark = "✓" if step.ok else f"✗ (exit {step.code})"
            out.append(
                f"  {mark} {step.name:<10} {step.seconds:7.1f}s  invoke {' '.join(step.argv)}"
            )
        if self.interrupted:
            out.append("  interrupted: destroy ran anyway")
        if self.left:
            out.append("left in the project:")
            out += [f"  - {item}" for item in self.left]
        else:
            out.append("left in the project: nothing this run created")
        return out


def refusal(argv: Sequence[str], environ: Mapping[str, str]) -> BadInput | None:
    """Why the suite must not start (one problem, the first), or None."""
    if not environ.get("OS_CLOUD"):
        return BadInput(
            Problem("OS_CLOUD", "must name the clouds.yaml entry of the project to smoke-test")
        )
    names = [arg for arg in argv if not arg.startswith("-")]
    if len(names) != 1:
        return BadInput(
            Problem(
                "environment",
                f"give exactly one environment name starting with {PREFIX!r} "
                "(nox -s cloud-smoke -- smoke-<name>)",
            )
        )
    if not names[0].startswith(PREFIX):
        return BadInput(
            Problem(
                "environment",
                f"{names[0]!r} does not start with {PREFIX!r}: the smoke suite destroys "
                "what it deploys, so it runs only in a throw-away environment",
            )
        )
    return None


def smallest_cluster_problems(env: str) -> list[Problem]:
    """The smoke environment must be the smallest cluster its config allows."""
    from .core import loading

    settings = loading.load(env, require_secrets=True).settings
    cluster = settings.cluster
    problems = []
    if cluster.driver == "existing":
        problems.append(
            Problem("cluster.driver", "must be heat or capi-helm: the smoke creates its cluster")
        )
    if cluster.master_count != 1:
        problems.append(Problem("cluster.master_count", "must be 1 for a smoke run"))
    if (cluster.min_workers, cluster.max_workers) != (1, 1):
        problems.append(
            Problem("cluster.min_workers/max_workers", "must both be 1 for a smoke run")
        )
    if cluster.node_groups:
        problems.append(Problem("cluster.node_groups", "must be empty for a smoke run"))
    if cluster.gpu.enabled:
        problems.append(Problem("cluster.gpu.enabled", "must be false for a smoke run"))
    return problems


def steps_for(env: str) -> list[tuple[str, tuple[str, ...]]]:
    return [
        ("deploy", ("deploy", "--env", env, "--no-health")),
        ("hub.health", ("hub.health", "--env", env)),
        ("status", ("status", "--env", env)),
        ("lb.doctor", ("lb.doctor", "--env", env)),
    ]


def what_is_left(env: str, cluster_name: str) -> list[str]:
    return [
        f"possibly the cluster {cluster_name}, its load balancers and their floating IPs, "
        "and the Helm releases on it",
        f"check: invoke status --env {env}; remove: invoke destroy --env {env} --yes",
    ]


def run(
    env: str,
    runner: Runner,
    *,
    clock: Clock | None = None,
    say: Callable[[str], None] = print,
    cluster_name: str = "",
) -> SmokeReport:
    """Run the steps; destroy always follows once deploy has started."""
    clock = clock or RealClock()
    report = SmokeReport(env)

    def step(name: str, argv: tuple[str, ...]) -> StepResult:
        say(f"── {name}: invoke {' '.join(argv)}")
        started = clock.monotonic()
        code = runner(argv)
        result = StepResult(name, argv, code, clock.monotonic() - started)
        report.steps.append(result)
        say(f"── {name}: {'ok' if result.ok else f'failed (exit {code})'} ({result.seconds:.1f}s)")
        return result

    try:
        for name, argv in steps_for(env):
            if not step(name, argv).ok:
                break  # the later checks need what failed; go straight to destroy
    except KeyboardInterrupt:
        report.interrupted = True
    # --no-backup: the environment is thrown away, and a hub.backup that fails (a hub pod
    # that never started, say) would otherwise stop destroy and leave the cluster behind.
    destroyed = step("destroy", ("destroy", "--env", env, "--yes", "--no-backup"))
    if not destroyed.ok:
        report.left = what_is_left(env, cluster_name or env)
    return report


def subprocess_runner(argv: Sequence[str]) -> int:
    """One `invoke` command as its own process, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", *argv], cwd=ROOT, check=False
    ).returncode


def main(
    argv: Sequence[str],
    environ: Mapping[str, str] | None = None,
    runner: Runner = subprocess_runner,
    clock: Clock | None = None,
) -> int:
    environ = os.environ if environ is None else environ
    refused = refusal(argv, environ)
    env = next((arg for arg in argv if not arg.startswith("-")), "")
    try:
        if refused is not None:
            raise refused
        problems = smallest_cluster_problems(env)
        if problems:
            raise BadInput(problems[0])
    except BadInput as problem:
        print(f"cloud-smoke refused: {problem.problems[0]}", file=sys.stderr)
        return 2
    from .core import loading

    cluster_name = loading.load(env, require_secrets=True).settings.cluster.name
    report = run(env, runner, clock=clock, cluster_name=cluster_name)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
