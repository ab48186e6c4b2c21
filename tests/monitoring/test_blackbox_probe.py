"""The outside view: Debian's blackbox exporter probing local HTTPS servers, scraped by
Debian's Prometheus with our alert rules loaded.

The scrape jobs do what the chart's ServiceMonitor does (charts/prometheus-blackbox-exporter
templates/servicemonitor.yaml at prometheus-blackbox-exporter-11.17.2): GET /probe with
`module` and `target` parameters, then relabel `target` to the target's name and
`instance` to its URL. The module is ours (probe.py) with one addition the test needs:
the servers' self-signed certificates are trusted through `tls_config.ca_file`, where
the hub's Let's Encrypt certificate needs none.

Three targets, all named `jupyterhub` and told apart by job: a certificate that expires
in 5 days (the expiry rule becomes active), one that expires in 60 days (quiet), and a
closed port (the unreachable rule becomes active). Both rules have a `for` duration
(15 and 5 minutes), so here they are active in state "pending"; test_alert_rules.py
shows them firing once the duration passes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from scripts.core.settings import Settings
from scripts.monitoring import alerts, probe
from tests.monitoring.conftest import EXAMPLE
from tests.support.components import (
    BlackboxServer,
    ProgrammableHTTPServer,
    PrometheusFactory,
    PrometheusServer,
    start_blackbox,
)
from tests.support.processes import LOOPBACK, free_port

SETTINGS = Settings.model_validate(EXAMPLE)


@dataclass
class Probed:
    prometheus: PrometheusServer
    blackbox: BlackboxServer
    soon: ProgrammableHTTPServer
    later: ProgrammableHTTPServer


def probe_job(name: str, blackbox: BlackboxServer, url: str) -> dict[str, Any]:
    return {
        "job_name": name,
        "metrics_path": "/probe",
        "scrape_interval": "1s",
        "params": {"module": [probe.MODULE], "target": [url]},
        "static_configs": [{"targets": [blackbox.address]}],
        "metric_relabel_configs": [
            {"target_label": "instance", "replacement": url, "action": "replace"},
            {"target_label": "target", "replacement": alerts.PROBE_TARGET, "action": "replace"},
        ],
    }


@pytest.fixture(scope="module")
def probed(
    tmp_path_factory: pytest.TempPathFactory,
    blackbox_bin: str,
    prometheus_bin: str,
    promtool_bin: str,
) -> Iterator[Probed]:
    base = tmp_path_factory.mktemp("probe")
    soon = ProgrammableHTTPServer(base / "soon", tls=True, valid_days=5)
    later = ProgrammableHTTPServer(base / "later", tls=True, valid_days=60)
    for server in (soon, later):
        server.respond("/hub/api/health", 200, body="")
    bundle = base / "ca.pem"
    assert soon.ca_cert_path and later.ca_cert_path
    bundle.write_text(soon.ca_cert_path.read_text() + later.ca_cert_path.read_text())
    config = probe.blackbox_config(SETTINGS)
    config["modules"][probe.MODULE]["http"]["tls_config"] = {"ca_file": str(bundle)}
    blackbox = start_blackbox(blackbox_bin, base / "blackbox", yaml.safe_dump(config))
    rules = base / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": alerts.rule_groups(SETTINGS, "lab")}))
    closed = f"https://{LOOPBACK}:{free_port()}/hub/api/health"
    servers = PrometheusFactory(prometheus_bin, base / "prometheus", promtool_bin)
    try:
        prometheus = servers(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(rules)],
                "scrape_configs": [
                    probe_job("soon", blackbox, f"{soon.url}/hub/api/health"),
                    probe_job("later", blackbox, f"{later.url}/hub/api/health"),
                    probe_job("closed", blackbox, closed),
                    {
                        "job_name": "prometheus",
                        "scrape_interval": "1s",
                        "static_configs": [{"targets": ["$PROMETHEUS_ADDRESS"]}],
                    },
                ],
            }
        )
        prometheus.wait_for_result('probe_success{job="soon"} == 1', timeout=60)
        prometheus.wait_for_result('probe_success{job="later"} == 1', timeout=60)
        prometheus.wait_for_result('probe_success{job="closed"} == 0', timeout=60)
        yield Probed(prometheus, blackbox, soon, later)
    finally:
        servers.close()
        blackbox.process.stop()
        soon.close()
        later.close()


def active(prometheus: PrometheusServer, name: str) -> dict[str, str]:
    """job -> state of the active alerts called name."""
    found = prometheus.query(f'ALERTS{{alertname="{name}"}}')
    return {r["metric"]["job"]: r["metric"]["alertstate"] for r in found}


def wait_active(prometheus: PrometheusServer, name: str, timeout: float = 30) -> dict[str, str]:
    prometheus.wait_for_result(f'ALERTS{{alertname="{name}"}}', timeout=timeout)
    # One more evaluation round, so every target's alert is in.
    time.sleep(2)
    return active(prometheus, name)


def test_the_probe_reads_the_certificates_expiry(probed: Probed) -> None:
    result = probed.prometheus.query(
        '(probe_ssl_earliest_cert_expiry{target="jupyterhub"} - time()) / 86400'
    )
    by_job = {r["metric"]["job"]: float(r["value"][1]) for r in result}
    # The servers' certificates end 5 and 60 days from their creation, minutes ago.
    assert by_job["soon"] == pytest.approx(5, abs=0.01)
    assert by_job["later"] == pytest.approx(60, abs=0.01)
    status = probed.prometheus.query('probe_http_status_code{target="jupyterhub"}')
    assert {r["metric"]["job"]: r["value"][1] for r in status} == {
        "soon": "200",
        "later": "200",
        "closed": "0",
    }


def test_the_expiry_rule_is_active_for_the_soon_expiring_certificate_only(
    probed: Probed,
) -> None:
    assert wait_active(probed.prometheus, "JupyterHubCertificateExpiring") == {"soon": "pending"}


def test_the_unreachable_rule_is_active_for_the_closed_port_only(probed: Probed) -> None:
    assert wait_active(probed.prometheus, "JupyterHubUnreachable") == {"closed": "pending"}


def test_the_health_check_was_asked_for(probed: Probed) -> None:
    paths = {r.path for r in probed.soon.requests}
    assert paths == {"/hub/api/health"}
    assert all(r.method == "GET" for r in probed.soon.requests)


def test_a_redirect_is_not_healthy(probed: Probed, tmp_path: Path) -> None:
    # A hub that sends the health check to a login page is not answering it.
    probed.later.respond("/hub/api/health", 302, headers={"Location": "/hub/login"})
    try:
        answer = requests.get(
            f"{probed.blackbox.url}/probe",
            params={"module": probe.MODULE, "target": f"{probed.later.url}/hub/api/health"},
            timeout=30,
        )
    finally:
        probed.later.respond("/hub/api/health", 200, body="")
    assert "probe_success 0" in answer.text
    assert "probe_http_status_code 302" in answer.text


def test_probe_and_prometheus_metric_names_are_live(probed: Probed) -> None:
    from tests.monitoring.metric_catalogue import BLACKBOX, PROMETHEUS

    answer = requests.get(
        f"{probed.blackbox.url}/probe",
        params={"module": probe.MODULE, "target": f"{probed.soon.url}/hub/api/health"},
        timeout=30,
    )
    names = {line.split()[2] for line in answer.text.splitlines() if line.startswith("# TYPE")}
    assert set(BLACKBOX.metrics) <= names
    own = probed.prometheus.query("prometheus_tsdb_storage_blocks_bytes")
    assert own and {r["metric"]["__name__"] for r in own} == set(PROMETHEUS.metrics) - {"up"}
    assert probed.prometheus.query('up{job="prometheus"} == 1')


def test_chart_values_ask_for_one_target_with_our_module() -> None:
    assert probe.values(SETTINGS) == {
        "config": {
            "modules": {
                "hub_health": {
                    "prober": "http",
                    "timeout": "10s",
                    "http": {
                        "method": "GET",
                        "valid_status_codes": [200],
                        "valid_http_versions": ["HTTP/1.1", "HTTP/2.0"],
                        "follow_redirects": False,
                        "preferred_ip_protocol": "ip4",
                        "fail_if_not_ssl": True,
                    },
                }
            }
        },
        "serviceMonitor": {
            "enabled": True,
            "defaults": {"interval": "60s", "scrapeTimeout": "15s", "module": "hub_health"},
            "targets": [
                {"name": "jupyterhub", "url": "https://jupyter.example.org/hub/api/health"}
            ],
        },
    }
