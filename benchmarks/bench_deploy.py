"""`invoke deploy` wall time against the sum of its releases' times.

The three Helm releases are independent and run side by side. With the recording
helm taking SECONDS per install (standing in for the minutes a real install
waits on pods), a serial deploy would take at least three times that; the
benchmark records the wall time and, in extra_info, the sum of the releases'
own times, so the two can be compared run to run.

Run:  python -m pytest benchmarks/bench_deploy.py
Goal: wall time close to the slowest release, well under the sum.
"""

from __future__ import annotations

from typing import Any

import pytest

from scripts import orchestrate
from scripts.core.loading import load
from tests.support.fake_helm import FakeHelm
from tests.whole.test_deploy_all import ENV, whole  # noqa: F401  (fixture)

SECONDS = 1.0


@pytest.mark.usefixtures("whole")
def test_deploy_wall_time_against_release_sum(
    benchmark: Any, fake_helm: FakeHelm, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts.core.console import Console

    fake_helm.slow("upgrade", SECONDS)
    environment = load(ENV, require_secrets=True)

    def once() -> orchestrate.DeployReport:
        # Each round starts from nothing installed, so every release really upgrades.
        (fake_helm.home / "releases.json").unlink(missing_ok=True)
        return orchestrate.deploy(environment, Console(), health=False)

    report = benchmark.pedantic(once, rounds=3, iterations=1)
    capsys.readouterr()
    benchmark.extra_info["releases"] = len(report.releases)
    benchmark.extra_info["sum_of_release_seconds"] = round(
        sum(r.seconds for r in report.releases), 2
    )
    assert all(r.ok for r in report.releases)
