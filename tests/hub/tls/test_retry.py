"""hub.ssl-retry end to end: kmock for the cluster, dnslib and HTTP(S) servers on loopback,
the recording helm for the release, and traefik log lines as traefik v3 writes them.

kmock runs no controllers, so `ReplicaSet` below plays the part of the autohttps
Deployment's ReplicaSet: it keeps `spec.replicas` pods, and when it starts one it
gives the traefik container the log of the scenario (and, for a successful order,
stores the certificate in the secret as the secret-sync sidecar would).
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scripts.core.console import Console
from scripts.core.errors import BadInput, OperationFailed
from scripts.core.helm import Helm
from scripts.core.loading import Environment
from scripts.core.templates import (
    ACME_PRODUCTION,
    ACME_STAGING,
    placeholder_secrets,
    render,
)
from scripts.hub.tls.acme_log import Outcome
from scripts.hub.tls.checks import Resolver
from scripts.hub.tls.ledger import Ledger
from scripts.hub.tls.retry import RetryOptions, Wiring, run
from tests.hub.tls.helpers import (
    DOMAIN,
    FAILURES,
    LOOPBACK,
    NAMESPACE,
    PRODUCTION,
    STAGING,
    STARTUP,
    Issued,
    acme_store,
    invoke_hub,
    issue,
    seed_secret,
    write_environment,
)
from tests.support.clock import FakeClock
from tests.support.components import DnsEndpoint, ProgrammableHTTPServer
from tests.support.fake_helm import FakeHelm, install
from tests.support.fakekube import FakeKube
from tests.support.processes import free_port

LABELS = {"app": "jupyterhub", "component": "autohttps", "release": "jhub"}
OLD_POD = "autohttps-5f8c9d7b6-x2k4p"

# ------------------------------------------------------------------ the cluster


def autohttps_pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {
            "containers": [
                {"name": "traefik", "image": "traefik:v3.6.12"},
                {"name": "secret-sync", "image": "quay.io/jupyterhub/k8s-secret-sync:4.4.0"},
            ]
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def seed_cluster(kube: FakeKube, lb_ip: str | None = LOOPBACK) -> None:
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    ingress = [{"ip": lb_ip}] if lb_ip else []
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "proxy-public", "namespace": NAMESPACE, "labels": dict(LABELS)},
            "spec": {
                "type": "LoadBalancer",
                "selector": {"component": "autohttps", "release": "jhub"},
                "ports": [
                    {"name": "http", "port": 80, "targetPort": "http"},
                    {"name": "https", "port": 443, "targetPort": "https"},
                ],
            },
            "status": {"loadBalancer": {"ingress": ingress}},
        }
    )
    kube.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "autohttps", "namespace": NAMESPACE, "labels": dict(LABELS)},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": dict(LABELS)},
                "template": autohttps_pod("template") | {"metadata": {"labels": dict(LABELS)}},
            },
        }
    )
    kube.create(autohttps_pod(OLD_POD))


def store_certificate(kube: FakeKube, issued: Issued) -> None:
    """What secret-sync does once traefik has a certificate."""
    encoded = base64.b64encode(acme_store(issued).encode()).decode()
    if kube.get("secrets", "proxy-public-tls-acme", NAMESPACE) is None:
        seed_secret(kube, "proxy-public-tls-acme", {"acme.json": acme_store(issued)})
    else:
        kube.patch("secrets", "proxy-public-tls-acme", {"data": {"acme.json": encoded}}, NAMESPACE)


@dataclass
class Scenario:
    """What the next traefik to start will log, and the certificate it obtains (if any)."""

    log: list[str] = field(default_factory=lambda: list(STARTUP))
    obtains: Issued | None = None


class ReplicaSet(threading.Thread):
    """Keeps the autohttps Deployment's replica count, as its ReplicaSet would."""

    def __init__(self, kube: FakeKube, scenario: Scenario) -> None:
        super().__init__(name="replicaset", daemon=True)
        self.kube, self.scenario = kube, scenario
        self.started: list[str] = []
        self.halt = threading.Event()
        self.error: BaseException | None = None
        self._numbers = itertools.count(1)

    def run(self) -> None:
        while not self.halt.wait(0.003):
            try:
                self.reconcile()
            except BaseException as error:  # surfaced by the fixture's teardown
                self.error = error
                return

    def reconcile(self) -> None:
        deployment = self.kube.get("apps/v1/deployments", "autohttps", NAMESPACE)
        if deployment is None:
            return
        replicas = int(deployment["spec"].get("replicas", 1))
        pods = [
            pod
            for pod in self.kube.objects("pods", NAMESPACE)
            if pod["metadata"].get("labels", {}).get("component") == "autohttps"
        ]
        for pod in pods[replicas:]:
            self.kube.delete("pods", pod["metadata"]["name"], NAMESPACE)
        for _ in range(replicas - len(pods)):
            name = f"autohttps-7c9d6b8f4-new{next(self._numbers)}"
            self.kube.set_pod_log(NAMESPACE, name, "\n".join(self.scenario.log) + "\n", "traefik")
            if self.scenario.obtains is not None:
                store_certificate(self.kube, self.scenario.obtains)
            self.kube.create(autohttps_pod(name))
            self.started.append(name)


# ------------------------------------------------------------------ the world


@dataclass
class World:
    kube: FakeKube
    helm: FakeHelm
    environment: Environment
    dns: DnsEndpoint
    dns_servers: dict[DnsEndpoint, Any]
    http: ProgrammableHTTPServer
    https: ProgrammableHTTPServer
    scenario: Scenario
    replicaset: ReplicaSet
    wiring: Wiring
    upgrades_before: int = 0

    @property
    def ledger(self) -> Ledger:
        return Ledger.for_environment(self.environment.name)

    def options(self, **changes: Any) -> RetryOptions:
        values: dict[str, Any] = {
            "timeout": 60.0,
            "resolvers": (Resolver(self.dns.address, self.dns.port),),
        }
        values.update(changes)
        return RetryOptions(**values)

    def retry(self, **changes: Any) -> Outcome | None:
        return run(self.environment, Console(), self.options(**changes), self.wiring)

    def set_dns(self, records: dict[str, Any]) -> None:
        self.dns_servers[self.dns].set_records(records)

    def new_upgrades(self) -> list[dict[str, Any]]:
        return self.helm.upgrades()[self.upgrades_before :]

    def mutations(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.kube.mutating_requests()]


def deploy_release(helm: FakeHelm, environment: Environment, **https: Any) -> None:
    """Install the rendered values through the real Helm wrapper into the recording helm."""
    hub = environment.settings.hub
    values = render("jupyterhub", environment.settings, placeholder_secrets()).values
    values["proxy"]["https"].update(https)
    Helm(binary=str(helm.binary)).upgrade_install(
        hub.release,
        hub.chart.name,
        repo=hub.chart.repo,
        version=hub.chart.version,
        namespace=hub.namespace,
        values=values,
        wait=False,
    )


@pytest.fixture
def world(
    config_dir: Path,
    kube: FakeKube,
    tmp_path: Path,
    dns_server_factory: Callable[..., DnsEndpoint],
    http_server_factory: Callable[..., ProgrammableHTTPServer],
) -> Iterator[World]:
    environment = write_environment(
        config_dir,
        "ssl",
        {"cluster.kubeconfig": str(kube.kubeconfig_path), "hub.floating_ip": LOOPBACK},
    )
    helm = install(tmp_path / "helm")
    deploy_release(helm, environment)
    seed_cluster(kube)
    dns = dns_server_factory({DOMAIN: {"A": LOOPBACK}})
    http = http_server_factory()
    http.respond("*", 404, headers={"Server": ""}, body=b"")  # traefik's ACME handler
    https = http_server_factory(tls=True, hostnames=(DOMAIN,))
    scenario = Scenario()
    replicaset = ReplicaSet(kube, scenario)
    wiring = Wiring(
        api=kube.api_client,
        helm=Helm(binary=str(helm.binary)),
        http_port=http.port,
        https_port=https.port,
        probe_timeout=3.0,
        dns_timeout=2.0,
        # Virtual seconds for the timeouts; each sleep yields a moment of real time to the
        # ReplicaSet thread, so a 180 s wait costs a fraction of a second.
        clock=FakeClock(on_sleep=lambda _: time.sleep(0.03)),
    )
    world = World(
        kube,
        helm,
        environment,
        dns,
        dns_server_factory.servers,  # type: ignore[attr-defined]
        http,
        https,
        scenario,
        replicaset,
        wiring,
        upgrades_before=len(helm.upgrades()),
    )
    replicaset.start()
    yield world
    replicaset.halt.set()
    replicaset.join(timeout=10)
    assert replicaset.error is None, replicaset.error


def fresh(days: int = 90, issuer: tuple[str, str] = PRODUCTION) -> Issued:
    return issue(issuer=issuer, not_before=dt.datetime.now(dt.UTC), days=days)


# ------------------------------------------------------------------ outcomes


def test_certificate_obtained(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.scenario.obtains = fresh()
    outcome = world.retry()

    assert outcome is not None and outcome.kind == "obtained"
    assert outcome.certificate is not None and outcome.certificate.issuer == "Let's Encrypt R11"
    # Exactly the manual's dangerous step, once: the old pod, nothing else.
    assert world.mutations() == [("DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods/{OLD_POD}")]
    assert world.replicaset.started == ["autohttps-7c9d6b8f4-new1"]
    [attempt] = world.ledger.attempts()
    assert (attempt.domain, attempt.server, attempt.outcome) == (DOMAIN, "production", "obtained")
    assert world.new_upgrades() == []
    out = capsys.readouterr().out
    assert f"HTTPS at {DOMAIN}" in out
    assert f"https://{DOMAIN}/ has a production certificate" in out


@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_known_acme_errors_stop_with_their_remedy(world: World, kind: str) -> None:
    line, remedy = FAILURES[kind]
    world.scenario.log = [*STARTUP, line]
    with pytest.raises(OperationFailed) as failure:
        world.retry()
    assert remedy in failure.value.remedy
    assert world.ledger.attempts()[-1].outcome == kind
    assert world.mutations() == [("DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods/{OLD_POD}")]


def test_harmless_lines_alone_leave_the_order_pending(world: World) -> None:
    with pytest.raises(OperationFailed) as failure:
        world.retry(timeout=30.0)
    assert failure.value.cause.startswith(f"no certificate for {DOMAIN} after 30s")
    assert "invoke hub.cert-status" in failure.value.remedy
    assert world.ledger.attempts()[-1].outcome == "pending"


# ------------------------------------------------------------------ the guard


def make_wrong_dns(world: World) -> str:
    world.set_dns({DOMAIN: {"A": "203.0.113.5"}})
    return (
        f"{DOMAIN} has A 203.0.113.5 (at {world.dns.address}:{world.dns.port}); it must be "
        f"{LOOPBACK}"
    )


def make_nxdomain(world: World) -> str:
    world.set_dns({})
    return f"create the record: {DOMAIN} A {LOOPBACK}"


def make_port_80_closed(world: World) -> str:
    world.wiring.http_port = free_port()
    return "(connection refused)"


def make_other_server(world: World) -> str:
    world.http.respond("*", 200, headers={"Server": "nginx/1.25.3"}, body="<h1>Welcome</h1>")
    return "is answered by another server (HTTP 200, Server: nginx/1.25.3)"


def make_ledger_full(world: World) -> str:
    now = dt.datetime.now(dt.UTC)
    for hours in (1, 20, 40, 60):
        world.ledger.record(DOMAIN, "production", now - dt.timedelta(hours=hours), "dns")
    return "4 production attempt(s)"


def make_no_lb_address(world: World) -> str:
    world.kube.patch(
        "services", "proxy-public", {"status": {"loadBalancer": {"ingress": None}}}, NAMESPACE
    )
    return f"the Service {NAMESPACE}/proxy-public has no external address yet"


@pytest.mark.parametrize(
    "break_it",
    [
        make_wrong_dns,
        make_nxdomain,
        make_port_80_closed,
        make_other_server,
        make_ledger_full,
        make_no_lb_address,
    ],
)
def test_no_pod_is_deleted_when_a_pre_check_fails(
    world: World, break_it: Callable[[World], str]
) -> None:
    expected = break_it(world)
    attempts_before = world.ledger.attempts()
    with pytest.raises(OperationFailed) as failure:
        world.retry()
    message = f"{failure.value.cause} {failure.value.remedy}"
    assert "the autohttps pod was left alone" in failure.value.cause
    assert expected in message
    assert world.mutations() == []
    assert world.kube.get("pods", OLD_POD, NAMESPACE) is not None
    assert world.replicaset.started == []
    assert world.new_upgrades() == []
    assert world.ledger.attempts() == attempts_before


def test_wrong_dns_message_gives_the_exact_fix(world: World) -> None:
    make_wrong_dns(world)
    with pytest.raises(OperationFailed) as failure:
        world.retry()
    assert f"change the DNS record {DOMAIN} A to {LOOPBACK}" in failure.value.remedy


def test_force_orders_despite_a_full_week(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    make_ledger_full(world)
    world.scenario.obtains = fresh()
    outcome = world.retry(force=True)
    assert outcome is not None and outcome.kind == "obtained"
    assert "--force: ordering although 4 production attempt(s)" in capsys.readouterr().err
    assert len(world.ledger.attempts()) == 5


def test_dry_run_checks_everything_and_changes_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.retry(dry_run=True) is None
    assert world.mutations() == []
    assert world.ledger.attempts() == []
    assert f"would delete pod {NAMESPACE}/{OLD_POD}" in capsys.readouterr().out


def test_valid_certificate_means_nothing_to_do(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    store_certificate(world.kube, fresh(days=80))
    assert world.retry() is None
    out = capsys.readouterr().out
    assert "already valid" in out and "nothing to retry" in out
    assert world.mutations() == []
    assert world.ledger.attempts() == []


def test_deployed_domain_must_match_the_config(world: World) -> None:
    deploy_release(world.helm, world.environment, hosts=["old.example.org"])
    with pytest.raises(OperationFailed) as failure:
        world.retry()
    assert "serves old.example.org" in failure.value.cause
    assert f"hub.domain is {DOMAIN}" in failure.value.cause
    assert world.mutations() == []


def test_missing_release_is_reported(world: World) -> None:
    (world.helm.home / "releases.json").unlink()
    with pytest.raises(OperationFailed, match="is not installed in namespace jhub"):
        world.retry()


# ------------------------------------------------------------------ staging


def test_staging_rehearsal_switches_the_release_and_restarts_cleanly(world: World) -> None:
    world.scenario.obtains = fresh(issuer=STAGING)
    outcome = world.retry(staging=True)

    assert outcome is not None and outcome.kind == "obtained"
    assert outcome.certificate is not None and outcome.certificate.staging
    deployment = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/autohttps"
    assert world.mutations() == [("PATCH", deployment), ("PATCH", deployment)]
    bodies = [r.body for r in world.kube.mutating_requests()]
    assert [b["spec"]["replicas"] for b in bodies] == [0, 1]
    [upgrade] = world.new_upgrades()
    assert f"acmeServer: {ACME_STAGING}" in upgrade["values_text"]
    assert upgrade["values_mode"] == 0o600
    [attempt] = world.ledger.attempts()
    assert (attempt.server, attempt.outcome) == ("staging", "obtained")


def test_staging_attempts_are_not_limited(world: World) -> None:
    make_ledger_full(world)
    world.scenario.obtains = fresh(issuer=STAGING)
    outcome = world.retry(staging=True)
    assert outcome is not None and outcome.kind == "obtained"


def test_back_to_production_drops_the_staging_certificate_first(world: World) -> None:
    deploy_release(
        world.helm,
        world.environment,
        letsencrypt={
            "contactEmail": "ops@example.org",
            "acmeServer": ACME_STAGING,
        },
    )
    upgrades_before = len(world.helm.upgrades())
    rehearsal = fresh(issuer=STAGING)
    store_certificate(world.kube, rehearsal)
    stored_before = world.kube.get("secrets", "proxy-public-tls-acme", NAMESPACE)
    assert stored_before is not None
    world.scenario.obtains = fresh()

    outcome = world.retry()

    assert outcome is not None and outcome.kind == "obtained"
    assert outcome.certificate is not None and not outcome.certificate.staging
    deployment = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/autohttps"
    secret = f"/api/v1/namespaces/{NAMESPACE}/secrets/proxy-public-tls-acme"
    # No traefik runs while the store is edited, so none can write the old one back.
    assert world.mutations() == [("PATCH", deployment), ("PATCH", secret), ("PATCH", deployment)]
    edited = json.loads(
        base64.b64decode(world.kube.mutating_requests()[1].body["data"]["acme.json"])
    )
    assert edited["default"]["Certificates"] == []
    assert edited["default"]["Account"]["Email"] == "ops@example.org"
    [upgrade] = world.helm.upgrades()[upgrades_before:]
    assert f"acmeServer: {ACME_PRODUCTION}" in upgrade["values_text"]
    # The previous store (with its private key) is kept locally, private to the operator.
    [backup] = Path(world.ledger.path.parent).glob("acme-backup-*.json")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert backup.read_bytes() == base64.b64decode(stored_before["data"]["acme.json"])


def test_rehearsal_refused_while_a_production_certificate_is_valid(world: World) -> None:
    store_certificate(world.kube, fresh(days=80))
    with pytest.raises(OperationFailed, match="trusted production certificate is in place"):
        world.retry(staging=True)
    assert world.mutations() == []


def test_expired_production_certificate_does_not_block_a_rehearsal(world: World) -> None:
    expired = issue(not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=100), days=90)
    store_certificate(world.kube, expired)
    world.scenario.obtains = fresh(issuer=STAGING)
    outcome = world.retry(staging=True)
    assert outcome is not None and outcome.kind == "obtained"
    secret = f"/api/v1/namespaces/{NAMESPACE}/secrets/proxy-public-tls-acme"
    assert ("PATCH", secret) in world.mutations()


# ------------------------------------------------------------------ the task


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (["--timeout", "5"], "option --timeout"),
        (["--resolvers", "dns.google"], "option --resolvers"),
    ],
)
def test_bad_options_exit_2_before_any_call(
    world: World, capsys: pytest.CaptureFixture[str], args: list[str], key: str
) -> None:
    assert invoke_hub("hub.ssl-retry", "--env", "ssl", *args) == 2
    assert key in capsys.readouterr().err
    assert world.kube.requests == []
    assert len(world.helm.calls()) == world.upgrades_before


def test_non_letsencrypt_config_is_bad_input(
    world: World, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_environment(
        config_dir,
        "own-cert",
        {
            "cluster.kubeconfig": str(world.kube.kubeconfig_path),
            "hub.https.mode": "secret",
            "hub.https.secret_name": "hub-tls",
        },
    )
    assert invoke_hub("hub.ssl-retry", "--env", "own-cert") == 2
    assert "hub.https.mode: is 'secret'" in capsys.readouterr().err
    assert world.kube.requests == []
    with pytest.raises(BadInput):
        run(
            write_environment(
                config_dir, "own-cert2", {"hub.https.mode": "secret", "hub.https.secret_name": "x"}
            ),
            Console(),
            RetryOptions(),
            world.wiring,
        )


def test_task_refuses_with_the_dns_fix(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JHUB_HELM", str(world.helm.binary))
    make_wrong_dns(world)
    code = invoke_hub(
        "hub.ssl-retry", "--env", "ssl", "--resolvers", f"{world.dns.address}:{world.dns.port}"
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert f"{DOMAIN} has A 203.0.113.5" in err
    assert f"  fix: change the DNS record {DOMAIN} A to {LOOPBACK}" in err
    assert world.mutations() == []
