"""`invoke deploy` then `invoke destroy --yes`, N seeded times, with 20% of the calls failing.

Each run builds a fresh world: the fake cloud (tests/support/fakecloud, behind the real
openstacksdk and magnumclient), the Kubernetes emulator (kmock behind the real kubernetes
client; the new cluster's API address points at it) seeded with what the heat driver
installs, and the recording helm. Then both sides fail RATE of their requests at the wire,
seeded, with what a client really meets through the load balancer in front of an OpenStack
API (HAProxy's 502/503/504 pages), on a flaky network (a connection reset before the
service saw the request) and, the dangerous case, a response lost after the service acted
(a read timeout or HAProxy's 504 while the create went through). The cloud's faults are
WIRE_FAULTS of tests/support/fakecloud/core.py, the emulator's KUBE_FAULTS of
tests/support/fakekube.py; both cite their sources.

The deploy and destroy are the tasks' procedures (`orchestrate.deploy` / `.destroy`, what
`invoke deploy` and `invoke destroy --yes` run) on the fake clock, so no wait really sleeps;
a run takes about a second, most of it the helm subprocesses.

Run:  python -m benchmarks.bench_faults --runs 100 --seed 1
      python -m pytest benchmarks/bench_faults.py       (10 runs under pytest-benchmark)
Goal (the project's compass): success >= 99%, duplicates 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.faulty_deploy import RATE, one_run


def percentile(values: list[int], share: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(runs: int, first_seed: int, rate: float = RATE) -> dict[str, Any]:
    results = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as scratch:
        for index in range(runs):
            results.append(one_run(first_seed + index, Path(scratch) / str(index), rate))
    duplicates: Counter[str] = Counter()
    for result in results:
        duplicates.update(result.duplicates)
    calls = [r.calls for r in results]
    return {
        "runs": runs,
        "rate": rate,
        "success": sum(r.ok for r in results) / runs,
        "duplicates": dict(sorted(duplicates.items())),
        "calls_mean": statistics.mean(calls),
        "calls_p95": percentile(calls, 0.95),
        "faults": sum(r.faults for r in results),
        "faults_after_acting": sum(r.faults_after_acting for r in results),
        "failures": [(r.seed, r.error) for r in results if not r.ok],
        "seconds": time.monotonic() - started,
    }


def test_deploy_and_destroy_with_faults(benchmark: Any) -> None:
    result = benchmark.pedantic(measure, args=(10, 1), rounds=1, iterations=1)
    benchmark.extra_info.update({k: v for k, v in result.items() if k != "failures"})
    print(f"\n{report(result)}")


def report(result: dict[str, Any]) -> str:
    duplicates = sum(result["duplicates"].values())
    lines = [
        f"{result['runs']} runs, {result['rate']:.0%} of calls failing "
        f"({result['faults']} faults, {result['faults_after_acting']} after the server acted): "
        f"success {result['success']:.1%}, duplicates {duplicates} "
        f"({', '.join(f'{k} {v}' for k, v in result['duplicates'].items())}), "
        f"calls per run mean {result['calls_mean']:.0f} p95 {result['calls_p95']}, "
        f"{result['seconds']:.0f}s"
    ]
    lines += [f"  seed {seed}: {error}" for seed, error in result["failures"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1, help="seed of the first run")
    parser.add_argument("--rate", type=float, default=RATE)
    options = parser.parse_args(argv)
    print(report(measure(options.runs, options.seed, options.rate)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
