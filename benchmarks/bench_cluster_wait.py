"""How often cluster.deploy asks Magnum for the status while a cluster is being created.

Magnum takes 10-15 minutes for a cluster; polling too often burns API quota on a
shared cloud, polling too rarely makes the operator wait after it is done. The
creation is simulated on the fake cloud with a fake clock (the cluster becomes
CREATE_COMPLETE after N minutes of simulated time), so a run takes milliseconds.

Run:  python -m pytest benchmarks/bench_cluster_wait.py --benchmark-enable
      python benchmarks/bench_cluster_wait.py          (a table for several durations)
Goal: at most 40 status calls for a 15-minute creation, and the wait ending
      within one poll interval (60 s) of the cluster being ready.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.cluster import deploy
from scripts.core.console import Console
from scripts.core.loading import Environment
from scripts.core.settings import Settings
from tests.support.fakecloud import FakeCloud

ROOT = Path(__file__).resolve().parents[1]


def environment() -> Environment:
    document = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    document["cluster"].update(
        {
            "master_flavor": "m1.medium",
            "worker_flavor": "m1.large",
            "external_network": "public",
            "gpu": {"enabled": False},
            "node_groups": [],
        }
    )
    document["hub"]["profiles"] = [p for p in document["hub"]["profiles"] if not p.get("gpus")]
    path = ROOT / "config" / "example.yaml"
    return Environment("bench", Settings.model_validate(document), None, path, path)


def simulated_creation(minutes: float) -> dict[str, Any]:
    """Deploy from nothing while Magnum needs `minutes`; count the status GETs."""
    with FakeCloud() as cloud:
        cloud.settle_polls = None
        cloud.settle_seconds = minutes * 60
        started = cloud.clock.now
        with contextlib.redirect_stdout(io.StringIO()):
            uuid = deploy.run(environment(), Console(), connection=cloud.conn, clock=cloud.clock)
        calls = cloud.count("GET", rf"/v1/clusters/{uuid}$")
        return {
            "minutes": minutes,
            "status_calls": calls,
            "waited_seconds": cloud.clock.now - started,
            "late_seconds": cloud.clock.now - started - minutes * 60,
        }


def test_status_calls_for_a_15_minute_creation(benchmark: Any) -> None:
    result = benchmark.pedantic(simulated_creation, args=(15,), rounds=3)
    benchmark.extra_info.update(result)
    print(f"\n15-minute creation: {result}")


if __name__ == "__main__":
    print(f"{'minutes':>8} {'status calls':>13} {'ready → noticed':>16}")
    for minutes in (5, 10, 15, 30, 60):
        row = simulated_creation(minutes)
        print(f"{minutes:>8} {row['status_calls']:>13} {row['late_seconds']:>15.0f}s")
