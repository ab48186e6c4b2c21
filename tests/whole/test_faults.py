"""A handful of the fault benchmark's runs (benchmarks/bench_faults.py), as a test.

`invoke deploy` then `invoke destroy --yes` against the fake cloud, the Kubernetes
emulator and the recording helm with 20% of the requests failing at the wire (HAProxy's
502/503/504, connection resets, answers lost after the service acted): every run
succeeds and nothing is made twice. No timing is asserted.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.faulty_deploy import one_run

SEEDS = range(1, 6)


def test_faulty_runs_succeed_without_duplicates(tmp_path: Path) -> None:
    results = [one_run(seed, tmp_path / str(seed)) for seed in SEEDS]

    assert [(r.seed, r.error) for r in results if not r.ok] == []
    assert {r.seed: +r.duplicates for r in results if +r.duplicates} == {}
    # The runs were faulty, answers lost after the server acted included.
    assert sum(r.faults for r in results) >= 40
    assert sum(r.faults_after_acting for r in results) >= 1
