"""hub.cert-status: certificates generated here, stored the way z2jh's autohttps stores them.

traefik keeps its ACME store (acme.json) in the secret proxy-public-tls-acme; each
certificate there is base64 of a PEM chain. The tests build such stores with
cryptography and read them back through the real kubernetes client and kmock.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from invoke.collection import Collection

from scripts.core.console import Console
from scripts.core.errors import BadInput, OperationFailed
from scripts.core.loading import Environment
from scripts.hub.tls import tasks
from scripts.hub.tls.cert_status import (
    UNINSTALL_REMINDER,
    StatusOptions,
    best_for,
    from_acme_json,
    from_pem,
    run,
)
from scripts.hub.tls.ledger import Ledger
from tests.hub.tls.helpers import (
    DOMAIN,
    NOW,
    STAGING,
    acme_store,
    invoke_hub,
    issue,
    seed_secret,
    write_environment,
)
from tests.support.components import ProgrammableHTTPServer
from tests.support.fakekube import FakeKube


@pytest.fixture
def environment(config_dir: Path, kube: FakeKube) -> Environment:
    return write_environment(config_dir, "certs", {"cluster.kubeconfig": str(kube.kubeconfig_path)})


@pytest.fixture
def report(
    environment: Environment, kube: FakeKube, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., tuple[Any, str]]]:
    def call(options: StatusOptions | None = None, env: Environment | None = None) -> Any:
        certificate = run(
            env or environment, Console(), options or StatusOptions(), kube.api_client, NOW
        )
        return certificate, capsys.readouterr().out

    yield call


# ------------------------------------------------------------------ parsing


def test_a_store_is_parsed_into_names_issuer_and_dates() -> None:
    issued = issue((DOMAIN, "www.example.org"))
    [certificate] = from_acme_json(acme_store(issued))
    assert certificate.names == (DOMAIN, "www.example.org")
    assert certificate.issuer == "Let's Encrypt R11"
    assert certificate.not_after == issued.leaf.not_valid_after_utc
    assert certificate.fingerprint == issued.leaf.fingerprint(hashes.SHA256()).hex()
    assert certificate.days_left(NOW) == 60
    assert not certificate.staging


def test_staging_issuers_are_recognised() -> None:
    assert from_pem(issue(issuer=STAGING).chain).staging
    assert from_pem(issue(issuer=(None, "Fake LE Intermediate X1")).chain).staging
    assert not from_pem(issue(issuer=("Let's Encrypt", "E6")).chain).staging


def test_self_signed_certificate_names_itself_as_issuer() -> None:
    certificate = from_pem(issue(issuer=None).chain)
    assert certificate.issuer == DOMAIN
    assert certificate.covers(DOMAIN)


def test_coverage_handles_wildcards_but_not_deeper_names() -> None:
    certificate = from_pem(issue(("*.example.org",)).chain)
    assert certificate.covers(DOMAIN)
    assert not certificate.covers("a.jupyter.example.org")
    assert not certificate.covers("example.org")


def test_best_certificate_covers_the_domain_and_lasts_longest() -> None:
    short = issue(days=30)
    long = issue(days=90)
    other = issue(("other.example.org",), days=365)
    certificates = from_acme_json(acme_store(short, long, other))
    best = best_for(DOMAIN, certificates)
    assert best is not None and best.days_left(NOW) == 60
    assert best_for("nobody.example.org", certificates) is None


def test_certificates_under_any_resolver_name_are_found() -> None:
    assert len(from_acme_json(acme_store(issue(), resolver="letsencrypt"))) == 1


def test_a_broken_store_is_an_operation_failure() -> None:
    with pytest.raises(OperationFailed, match=r"no valid acme\.json"):
        from_acme_json("{not json")


# ------------------------------------------------------------------ the report


def test_report_from_the_acme_secret(
    kube: FakeKube, environment: Environment, report: Callable[..., tuple[Any, str]]
) -> None:
    issued = issue()
    seed_secret(kube, "proxy-public-tls-acme", {"acme.json": acme_store(issued)})
    ledger = Ledger.for_environment(environment.name)
    ledger.record(DOMAIN, "production", NOW - dt.timedelta(days=1))
    ledger.record(DOMAIN, "production", NOW - dt.timedelta(days=9))  # no longer counts
    ledger.record(DOMAIN, "staging", NOW - dt.timedelta(days=1))  # never counts

    certificate, out = report()

    assert certificate.names == (DOMAIN,)
    assert "source:     secret jhub/proxy-public-tls-acme" in out
    assert "issuer:     Let's Encrypt R11" in out
    assert "staging:    no" in out
    assert f"not after:  {issued.leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC" in out
    assert "days left:  60" in out
    assert "attempts:   1 production order(s)" in out
    assert UNINSTALL_REMINDER.split(";")[0] in " ".join(out.split())
    # The private key lives next to the certificate; it must never be shown.
    key_body = issued.key.decode().splitlines()[1]
    assert key_body not in out and base64.b64encode(issued.key).decode()[:40] not in out
    assert [r.method for r in kube.mutating_requests()] == []


def test_staging_certificate_is_reported_as_untrusted(
    kube: FakeKube, report: Callable[..., tuple[Any, str]]
) -> None:
    seed_secret(kube, "proxy-public-tls-acme", {"acme.json": acme_store(issue(issuer=STAGING))})
    certificate, out = report()
    assert certificate.staging
    assert "staging:    yes, browsers do not trust it" in out


def test_secret_mode_reads_tls_crt(
    config_dir: Path, kube: FakeKube, report: Callable[..., tuple[Any, str]]
) -> None:
    env = write_environment(
        config_dir,
        "own-cert",
        {
            "cluster.kubeconfig": str(kube.kubeconfig_path),
            "hub.https.mode": "secret",
            "hub.https.secret_name": "hub-tls",
        },
    )
    issued = issue(issuer=("Example CA", "Example Issuing CA 2"))
    seed_secret(kube, "hub-tls", {"tls.crt": issued.chain.decode(), "tls.key": issued.key.decode()})
    certificate, out = report(env=env)
    assert certificate.issuer == "Example CA Example Issuing CA 2"
    assert "source:     secret jhub/hub-tls" in out
    assert "attempts:" not in out  # no Let's Encrypt, no ledger


def test_expired_certificate_fails_with_the_retry_command(
    kube: FakeKube, report: Callable[..., tuple[Any, str]]
) -> None:
    old = issue(not_before=NOW - dt.timedelta(days=100))
    seed_secret(kube, "proxy-public-tls-acme", {"acme.json": acme_store(old)})
    with pytest.raises(OperationFailed, match="expired on") as failure:
        report()
    assert "invoke hub.ssl-retry --env certs" in failure.value.remedy


def test_no_secret_falls_back_to_the_live_endpoint(
    kube: FakeKube,
    report: Callable[..., tuple[Any, str]],
    http_server_factory: Callable[..., ProgrammableHTTPServer],
) -> None:
    server = http_server_factory(tls=True, hostnames=(DOMAIN,))
    certificate, out = report(StatusOptions(address="127.0.0.1", https_port=server.port))
    assert certificate.covers(DOMAIN)
    assert f"source:     live endpoint 127.0.0.1:{server.port}" in out


def test_traefik_default_certificate_means_nothing_was_obtained(
    report: Callable[..., tuple[Any, str]],
    http_server_factory: Callable[..., ProgrammableHTTPServer],
) -> None:
    server = http_server_factory(tls=True, hostnames=("TRAEFIK DEFAULT CERT",))
    with pytest.raises(OperationFailed, match="traefik's default certificate"):
        report(StatusOptions(live=True, address="127.0.0.1", https_port=server.port))


def test_https_off_is_bad_input(config_dir: Path, kube: FakeKube) -> None:
    env = write_environment(
        config_dir,
        "plain",
        {
            "hub.https.mode": "off",
            "hub.auth.type": "native",
            "cluster.kubeconfig": str(kube.kubeconfig_path),
        },
    )
    with pytest.raises(BadInput) as refused:
        run(env, Console(), StatusOptions(), kube.api_client, NOW)
    assert refused.value.problems[0].key == "hub.https.mode"
    assert kube.requests == []


# ------------------------------------------------------------------ the task


def test_register_adds_the_three_tasks() -> None:
    hub = Collection("hub")
    tasks.register(hub)
    assert set(hub.task_names) == {"ssl-retry", "cert-status", "tls-secret"}


def test_task_reports_from_the_cluster(
    kube: FakeKube, environment: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_secret(kube, "proxy-public-tls-acme", {"acme.json": acme_store(issue(days=3650))})
    assert invoke_hub("hub.cert-status", "--env", environment.name) == 0
    assert "issuer:     Let's Encrypt R11" in capsys.readouterr().out


def test_task_with_expired_certificate_fails_with_one_line(
    kube: FakeKube, environment: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    old = issue(not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=100))
    seed_secret(kube, "proxy-public-tls-acme", {"acme.json": acme_store(old)})
    code = invoke_hub("hub.cert-status", "--env", environment.name)
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert f"error: the certificate for {DOMAIN} expired on" in err
    assert "  fix: run `invoke hub.ssl-retry --env certs`" in err


def test_task_with_bad_environment_name_is_bad_input(
    kube: FakeKube, capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke_hub("hub.cert-status", "--env", "Not A Name") == 2
    assert "option --env" in capsys.readouterr().err
    assert kube.requests == []
