"""Documentation-only values (issue 14, defect 8): plan lists them, the rest refuse them.

After `config.init` the config holds the example's `jupyter.example.org`,
`ops@example.org`, `192.0.2.10`, `my-client-id` and `harbor.example.org/...`.
Every task that talks to a cloud or a cluster refuses them before any call (exit 2,
each key named, what to set); `plan` keeps working on the bundled example.

Reserved names: RFC 2606 §2 (.test .example .invalid .localhost) and §3
(example.com/.net/.org), RFC 6761 §6; documentation addresses: RFC 5737 §3,
RFC 3849, RFC 9637.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import TaskRun
from tests.core.corpus import assert_refused, ready_config, write_config

Run = Callable[..., TaskRun]

# The example's documentation values, written out (not computed by the code under test).
EXAMPLE_KEYS = [
    "hub.domain",
    "hub.https.contact_email",
    "hub.floating_ip",
    "hub.auth.oauth.client_id",
    "gpu.driver.registry",
]

# Options a task needs before it reaches its environment.
NEEDS = {
    "cluster.autoscaler": ["--nodegroup", "gpu-worker", "--min", "0", "--max", "2"],
    "cluster.replace": ["--to", "jhub-2"],
    "hub.approve": ["--names", "alice"],
    "hub.reject": ["--names", "alice"],
    "hub.restore": ["--from", "hub-backup.json"],
    "hub.tls-secret": ["--cert", "cert.pem", "--key", "key.pem"],
    "monitoring.dashboards": ["--apply"],
}
# Tasks that never open a connection: they work with the example's values.
OFFLINE = {"plan", "config.init", "config.show", "hub.authorize-url", "monitoring.dashboards"}
# config/local.yaml is their environment, not --env (a kind cluster, no documentation values).
LOCAL = {"local.up", "local.down"}


def talking_tasks() -> list[str]:
    from scripts.namespace import build

    names = set(build().task_names)
    return sorted(names - OFFLINE - LOCAL | {"monitoring.dashboards"})


TALKING = talking_tasks()


@pytest.fixture
def dev(config_dir: Path, run_task: Run) -> Path:
    """`config.init --env dev`, with the OAuth secret pasted in as the operator would."""
    assert run_task("config.init", "--env", "dev").code == 0
    path = config_dir / "dev.secrets.yaml"
    secrets = yaml.safe_load(path.read_text())
    secrets["oauth_client_secret"] = "pasted-from-the-provider-0123456789"
    path.write_text(yaml.safe_dump(secrets))
    return config_dir


@pytest.mark.parametrize("task", TALKING)
def test_every_task_that_talks_refuses_the_example_values(
    dev: Path, run_task: Run, socket_disabled: None, task: str
) -> None:
    result = run_task(task, "--env", "dev", *NEEDS.get(task, []))
    assert_refused(result, *(f"error: {key}: " for key in EXAMPLE_KEYS))
    assert "set " in result.err
    assert result.out == ""


def test_config_check_says_the_example_values_are_not_ready(
    dev: Path, run_task: Run, socket_disabled: None
) -> None:
    result = run_task("config.check", "--env", "dev")
    assert_refused(result, "hub.domain: 'jupyter.example.org' is a domain reserved")


def test_plan_works_on_the_example_and_lists_its_placeholders(
    config_dir: Path, run_task: Run, socket_disabled: None
) -> None:
    result = run_task("plan")
    assert result.code == 0, result.err
    assert f"Placeholders ({len(EXAMPLE_KEYS)})" in result.out
    for key in EXAMPLE_KEYS:
        assert f"· {key}: " in result.out, key


def test_offline_tasks_keep_working(dev: Path, run_task: Run, socket_disabled: None) -> None:
    shown = run_task("config.show", "--env", "dev")
    assert shown.code == 0, shown.err
    assert "placeholder: hub.floating_ip" in shown.err
    assert run_task("monitoring.dashboards").code == 0
    dry = run_task("gpu.build-driver", "--env", "dev", "--dry-run")
    assert "hub.domain" not in dry.err


def test_a_config_with_real_values_passes_the_check(
    config_dir: Path, run_task: Run, socket_disabled: None
) -> None:
    write_config(config_dir, "ready", ready_config())
    result = run_task("cluster.autoscaler-logs", "--env", "ready")
    # Past the placeholders, to the task's own refusal (capi-helm has no autoscaler log).
    assert_refused(result, "cluster.driver: 'capi-helm'")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("hub.domain", "hub.example.com"),
        ("hub.domain", "hub.example"),
        ("hub.domain", "hub.invalid"),
        ("hub.domain", "EXAMPLE.NET"),
        ("hub.https.contact_email", "me@mail.example.com"),
        ("hub.floating_ip", "198.51.100.7"),
        ("hub.floating_ip", "203.0.113.250"),
        ("hub.singleuser.image", "registry.example.org:5000/jupyter/base:1"),
        ("hub.auth.oauth.issuer", "https://iam.example.org"),
        ("cluster.image_mirror", "https://mirror.example.net/v2"),
        ("hub.chart.repo", "https://charts.example.com/jupyterhub"),
        ("cluster.image_mirror", "[2001:db8::5]:5000"),
    ],
)
def test_documentation_values_in_any_key_are_refused(
    config_dir: Path, run_task: Run, socket_disabled: None, key: str, value: str
) -> None:
    config = ready_config()
    *parents, last = key.split(".")
    node = config
    for part in parents:
        node = node[part]
    node[last] = value
    write_config(config_dir, "dev", config)
    assert_refused(run_task("cluster.status", "--env", "dev"), f"{key}: ")


@pytest.mark.parametrize(
    "value", ["jupyter.test", "hub.localhost", "10.0.0.5", "hub.example-university.ac.uk"]
)
def test_local_and_real_names_are_allowed(value: str) -> None:
    from scripts.core.placeholders import reason

    assert reason(value) == ""
