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
import contextlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts import orchestrate
from scripts.core import loading
from scripts.core.console import Console
from scripts.core.errors import BadInput, OperationFailed
from tests.cluster.conftest import CLUSTER, merge
from tests.support import fake_helm
from tests.support.fakecloud import WIRE_FAULTS, FakeCloud
from tests.support.fakekube import KUBE_FAULTS, FakeKube
from tests.whole.test_deploy_drivers import seed as seed_heat_cluster

ROOT = Path(__file__).resolve().parents[1]
ENV = "faults"
RATE = 0.2
ZONE = "example.org."
FLOATING_IP = "203.0.113.7"  # pinned, as the example advises; the hub's Service holds it


class Cloud(FakeCloud):
    """The fake cloud whose new clusters answer on the emulator's address."""

    api_address = ""

    def _complete_cluster(self, ident: str, reason: str | None) -> None:
        super()._complete_cluster(ident, reason)
        cluster = self.clusters.get(ident)
        if cluster is not None and cluster["status"] == "CREATE_COMPLETE":
            cluster["api_address"] = self.api_address


@dataclass
class RunResult:
    seed: int
    ok: bool
    error: str
    calls: int
    faults: int
    faults_after_acting: int
    duplicates: Counter[str] = field(default_factory=Counter)


def duplicates_by(items: list[Any]) -> int:
    """How many items repeat an earlier one's key."""
    return sum(count - 1 for count in Counter(items).values() if count > 1)


def count_duplicates(cloud: FakeCloud, helm: fake_helm.FakeHelm) -> Counter[str]:
    """Objects made twice, by the key the tool finds them by. Read at the end of deploy."""
    found: Counter[str] = Counter()
    found["clusters"] = duplicates_by([c["name"] for c in cloud.clusters.values()])
    found["cluster_templates"] = duplicates_by([t["name"] for t in cloud.templates.values()])
    found["node_groups"] = duplicates_by(
        [(g["cluster_id"], g["name"]) for g in cloud.nodegroups.values()]
    )
    found["load_balancers"] = duplicates_by([lb["name"] for lb in cloud.load_balancers.values()])
    # The pinned address is the only one the hub needs; any other allocated is one too many.
    found["floating_ips"] = len(cloud.floating_ips) - 1
    found["dns_records"] = duplicates_by(
        [(r["name"], r["type"]) for r in cloud.recordsets.values() if r["type"] == "A"]
    )
    found["helm_releases"] = duplicates_by([r["name"] for r in helm.releases().values()])
    return found


@contextlib.contextmanager
def environment_variables(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def write_config(folder: Path, cloud: FakeCloud) -> None:
    """The example with the heat driver on the fake cloud, DNS managed, secrets filled."""
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "config" / "example.yaml", folder / "example.yaml")
    document = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    document = merge(document, {"cloud": "fake", "cluster": merge(CLUSTER, {"driver": "heat"})})
    document["hub"]["floating_ip"] = FLOATING_IP
    document["hub"]["dns"] = {"manage": True}
    (folder / f"{ENV}.yaml").write_text(yaml.safe_dump(document))
    cloud.clouds_yaml(folder)


def init_secrets(folder: Path) -> None:
    """`invoke config.init` writes the secrets file; only the OAuth secret is set by hand."""
    from scripts.cli import CommandLine

    sys.path.insert(0, str(ROOT))
    import tasks

    (folder / f"{ENV}.yaml").rename(folder / f"{ENV}.yaml.keep")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        with contextlib.suppress(SystemExit):
            CommandLine(namespace=tasks.ns, version="bench").run(
                ["invoke", "config.init", "--env", ENV], exit=True
            )
    (folder / f"{ENV}.yaml.keep").replace(folder / f"{ENV}.yaml")
    path = folder / f"{ENV}.secrets.yaml"
    secrets = yaml.safe_load(path.read_text())
    secrets["oauth_client_secret"] = "client-secret-for-benchmarks"
    path.write_text(yaml.safe_dump(secrets))


def one_run(seed: int, workdir: Path, rate: float = RATE) -> RunResult:
    """Deploy then destroy in a fresh world with `rate` of the calls failing."""
    workdir.mkdir(parents=True)
    kube_dir = workdir / "kube"
    kube_dir.mkdir()
    kube = FakeKube(kube_dir)
    cloud = Cloud()
    cloud.api_address = kube.url
    cloud.start()
    helm = fake_helm.install(workdir / "helm")
    folder = workdir / "config"
    try:
        write_config(folder, cloud)
        variables = {
            "JHUB_CONFIG_DIR": str(folder),
            "JHUB_BUILD_DIR": str(workdir / "build"),
            "JHUB_HELM": str(helm.binary),
            "JHUB_ALLOW_DOCUMENTATION_VALUES": "1",
            "OS_CLIENT_CONFIG_FILE": str(folder / "clouds.yaml"),
            "OS_CLOUD": "fake",
        }
        with environment_variables(variables):
            init_secrets(folder)
            cloud.add_zone(ZONE)
            cloud.add_floating_ip(FLOATING_IP)
            seed_heat_cluster(kube, "heat")
            kube.add_resource("monitoring.coreos.com/v1/prometheusrules", kind="PrometheusRule")
            environment = loading.load(ENV, require_secrets=True)
            cloud.inject_faults(rate, seed=seed, kinds=WIRE_FAULTS, timeout_applied=None)
            kube_faults = kube.inject_faults(rate, seed=seed, kinds=KUBE_FAULTS)
            error = ""
            duplicates: Counter[str] = Counter()
            sink = io.StringIO()
            try:
                with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                    orchestrate.deploy(
                        environment,
                        Console(),
                        health=False,
                        clock=cloud.clock,
                        connection=cloud.conn,
                    )
                    duplicates = count_duplicates(cloud, helm)
                    orchestrate.destroy(
                        environment, Console(), yes=True, clock=cloud.clock, connection=cloud.conn
                    )
            except (OperationFailed, BadInput) as failure:
                # The releases' own errors are in their blocks; the summary only counts them.
                causes = [line.strip() for line in sink.getvalue().splitlines() if ": ✗ " in line]
                error = "; ".join(causes) or str(failure).splitlines()[0]
                if not duplicates:
                    duplicates = count_duplicates(cloud, helm)
            except Exception as unexpected:  # a bug is a failed run, with its name
                error = f"unexpected {type(unexpected).__name__}: {unexpected}"
                if not duplicates:
                    duplicates = count_duplicates(cloud, helm)
            after_acting = [r for r in cloud.injected_faults if r.applied and r.method != "GET"]
            after_acting_kube = [f for f in kube_faults.injected if f.applied]
            return RunResult(
                seed=seed,
                ok=not error,
                error=error,
                calls=len(cloud.log) + len(kube.requests) + len(helm.calls()),
                faults=len(cloud.injected_faults) + len(kube_faults.injected),
                faults_after_acting=len(after_acting) + len(after_acting_kube),
                duplicates=duplicates,
            )
    finally:
        cloud.stop()
        kube.close()


def percentile(values: list[int], share: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def benchmark(runs: int, first_seed: int, rate: float = RATE) -> dict[str, Any]:
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
    result = benchmark.pedantic(globals()["benchmark"], args=(10, 1), rounds=1, iterations=1)
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
    print(report(benchmark(options.runs, options.seed, options.rate)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
