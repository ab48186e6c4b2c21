"""One faulty `invoke deploy` and `invoke destroy --yes` in a fresh world (bench_faults).

The fake cloud (behind the real openstacksdk and magnumclient), the Kubernetes emulator
(kmock behind the real kubernetes client; the new cluster's API address points at it)
seeded with what the heat driver installs, and the recording helm; then `rate` of the
requests on both sides fail at the wire, seeded: WIRE_FAULTS of fakecloud/core.py and
KUBE_FAULTS of fakekube.py (HAProxy's 502/503/504 pages, connection resets, answers lost
after the service acted). The deploy and destroy are the tasks' procedures on the fake
clock, so no wait really sleeps.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scripts import orchestrate
from scripts.core import loading
from scripts.core.console import Console
from scripts.core.errors import BadInput, OperationFailed
from tests.cluster.conftest import CLUSTER, HEAT_IMAGE, merge
from tests.support import fake_helm
from tests.support.driver_clusters import seed as seed_heat_cluster
from tests.support.fakecloud import WIRE_FAULTS, FakeCloud
from tests.support.fakekube import KUBE_FAULTS, FakeKube

ROOT = Path(__file__).resolve().parents[2]
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
    # A Fedora CoreOS image: Magnum hands those to the heat driver (cluster preflight).
    heat = {"driver": "heat", "image": HEAT_IMAGE, "gpu": {"min_nodes": 0}}
    document = merge(document, {"cloud": "fake", "cluster": merge(CLUSTER, heat)})
    document["hub"]["floating_ip"] = FLOATING_IP
    document["hub"]["dns"] = {"manage": True}
    (folder / f"{ENV}.yaml").write_text(yaml.safe_dump(document))
    cloud.clouds_yaml(folder)


def init_secrets(folder: Path) -> None:
    """`invoke config.init` writes the secrets file; only the OAuth secret is set by hand."""
    from scripts.cli import CommandLine

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import tasks

    (folder / f"{ENV}.yaml").rename(folder / f"{ENV}.yaml.keep")
    quiet = io.StringIO()
    with (
        contextlib.redirect_stdout(quiet),
        contextlib.redirect_stderr(quiet),
        contextlib.suppress(SystemExit),
    ):
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
                    # backup=False: the emulator plays no hub container to exec into
                    # (hub.backup is tested against a real JupyterHub in tests/hub).
                    orchestrate.destroy(
                        environment,
                        Console(),
                        yes=True,
                        clock=cloud.clock,
                        connection=cloud.conn,
                        backup=False,
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
