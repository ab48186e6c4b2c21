"""The hub and monitoring on a real kind cluster, after `invoke local.up` (see conftest.py).

Run with `nox -s integration` (needs docker, kind, kubectl and helm).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scripts.core import helm, loading
from scripts.core.console import Console
from scripts.hub import health
from scripts.hub.floating_ip import PROXY_SERVICE
from scripts.monitoring.grafana import PROMETHEUS_SERVICE
from tests.integration.conftest import LocalStack, invoke
from tests.integration.port_forward import port_forward
from tests.support.processes import loopback_session, wait_until

HUB_UP = 'up{job=~".*hub.*"} == 1'


def test_local_up_printed_the_port_forward(local_stack: LocalStack) -> None:
    assert (
        f"kubectl --kubeconfig {local_stack.kubeconfig} -n jhub port-forward "
        f"svc/{PROXY_SERVICE} 8080:80" in local_stack.up_output
    )
    assert "http://127.0.0.1:8080/" in local_stack.up_output


def test_the_hub_answers_through_a_port_forward(local_stack: LocalStack, tmp_path: Path) -> None:
    with (
        port_forward(
            local_stack.kubeconfig, "jhub", f"svc/{PROXY_SERVICE}", 80, log_dir=tmp_path
        ) as url,
        loopback_session() as session,
    ):
        response = session.get(f"{url}hub/api/health", timeout=30)

    assert response.status_code == 200, response.text


def test_a_server_starts_and_stops_for_the_check_user(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    environment = loading.load("local", require_secrets=True)
    with port_forward(
        local_stack.kubeconfig, "jhub", f"svc/{PROXY_SERVICE}", 80, log_dir=tmp_path
    ) as url:
        # A first start pulls the single-user image into the kind node.
        result = health.run(environment, Console(), url=url, timeout=1200)

    assert result.healthy, f"{result.cause} — {result.remedy}"
    assert result.spawn_seconds is not None and result.spawn_seconds > 0


def test_hub_deploy_again_changes_nothing(local_stack: LocalStack) -> None:
    client = helm.Helm(kubeconfig=local_stack.kubeconfig)
    before = client.status("jhub", "jhub")
    assert before is not None and before.status == "deployed"

    again = invoke("hub.deploy", "--env", "local")

    assert again.returncode == 0, again.stdout + again.stderr
    assert "unchanged, hub not restarted" in again.stdout
    after = client.status("jhub", "jhub")
    assert after is not None and after.revision == before.revision


def test_monitoring_deploy_leaves_prometheus_scraping_the_hub(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    again = invoke("monitoring.deploy", "--env", "local")
    assert again.returncode == 0, again.stdout + again.stderr

    found: list[dict[str, Any]] = []
    with (
        port_forward(
            local_stack.kubeconfig,
            "prometheus",
            f"svc/{PROMETHEUS_SERVICE}",
            9090,
            log_dir=tmp_path,
        ) as url,
        loopback_session() as session,
    ):

        def hub_scraped() -> bool:
            answer = session.get(f"{url}api/v1/query", params={"query": HUB_UP}, timeout=30)
            found[:] = answer.json()["data"]["result"]
            return bool(found)

        # Target discovery and the first scrape take up to a few scrape intervals.
        wait_until(hub_scraped, timeout=600, what=f"Prometheus to answer {HUB_UP}")

    assert {series["metric"]["namespace"] for series in found} == {"jhub"}
