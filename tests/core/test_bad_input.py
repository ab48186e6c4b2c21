"""Malformed configs and options: exit 2, the key path named, and no network call.

Each case starts from the bundled example, breaks one thing, and runs the real
task in-process with sockets disabled, so a stray API call fails the test.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, TaskRun

EXAMPLE: dict[str, Any] = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
Mutation = Callable[[dict[str, Any]], None]


def setting(path: str, value: Any) -> Mutation:
    def mutate(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = config  # a walk through YAML: dicts and lists by turns
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def removing(path: str) -> Mutation:
    def mutate(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = config  # a walk through YAML: dicts and lists by turns
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        del node[last]

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(config: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(config)

    return mutate


def native_auth(config: dict[str, Any]) -> None:
    config["hub"]["auth"]["type"] = "native"


NO_GPU_NODES = setting("cluster.gpu.enabled", False)

# (case id, mutation, text the error must contain: the key path)
CONFIG_CASES: list[tuple[str, Mutation, str]] = [
    ("unknown top-level key", setting("clutser", {}), "clutser: unknown key"),
    ("unknown cluster key", setting("cluster.flavour", "x"), "cluster.flavour: unknown key"),
    ("unknown hub key", setting("hub.domian", "a.example.org"), "hub.domian: unknown key"),
    ("driver not allowed", setting("cluster.driver", "k3s"), "cluster.driver"),
    ("cluster name not a label", setting("cluster.name", "My_Cluster"), "cluster.name"),
    ("missing cluster", removing("cluster"), "cluster: required key is missing"),
    ("missing hub auth", removing("hub.auth"), "hub.auth: required key is missing"),
    ("missing cluster name", removing("cluster.name"), "cluster.name: required"),
    ("max_workers not a number", setting("cluster.max_workers", "many"), "cluster.max_workers"),
    ("min_workers zero", setting("cluster.min_workers", 0), "cluster.min_workers"),
    ("min above max workers", setting("cluster.min_workers", 20), "cluster.min_workers"),
    ("master_count even", setting("cluster.master_count", 2), "cluster.master_count"),
    (
        "heat without keypair",
        both(setting("cluster.driver", "heat"), setting("cluster.keypair", "")),
        "cluster.keypair: required by driver 'heat'",
    ),
    ("capi without image", setting("cluster.image", ""), "cluster.image: required"),
    ("gpu enabled without flavor", setting("cluster.gpu.flavor", ""), "cluster.gpu.flavor"),
    ("gpu min above max", setting("cluster.gpu.min_nodes", 5), "cluster.gpu.min_nodes"),
    (
        "node group duplicate of gpu",
        setting("cluster.node_groups.0.name", "gpu-worker"),
        "cluster.node_groups: names must be unique",
    ),
    (
        "node group bad taint effect",
        setting("cluster.node_groups.0.taints", [{"key": "a", "effect": "Never"}]),
        "cluster.node_groups[0].taints[0].effect",
    ),
    ("invalid domain", setting("hub.domain", "not a domain"), "hub.domain"),
    ("domain with scheme", setting("hub.domain", "https://jupyter.example.org"), "hub.domain"),
    (
        "invalid email",
        setting("hub.https.contact_email", "ops-at-example"),
        "hub.https.contact_email",
    ),
    (
        "letsencrypt without email",
        setting("hub.https.contact_email", None),
        "hub.https.contact_email: required",
    ),
    ("https mode unknown", setting("hub.https.mode", "acme"), "hub.https.mode"),
    ("secret mode without name", setting("hub.https.mode", "secret"), "hub.https.secret_name"),
    ("floating ip not ipv4", setting("hub.floating_ip", "2001:db8::1"), "hub.floating_ip"),
    ("floating ip garbage", setting("hub.floating_ip", "192.0.2"), "hub.floating_ip"),
    ("oauth without https", setting("hub.https.mode", "off"), "hub.auth.type: 'oauth' needs"),
    (
        "oauth without domain",
        both(setting("hub.domain", None), setting("hub.https.mode", "off")),
        "hub.auth.type",
    ),
    (
        "oauth issuer not https",
        setting("hub.auth.oauth.issuer", "http://iam.example.org"),
        "hub.auth.oauth.issuer",
    ),
    ("oauth without client id", removing("hub.auth.oauth.client_id"), "hub.auth.oauth.client_id"),
    ("oauth section missing", removing("hub.auth.oauth"), "hub.auth.oauth: required"),
    (
        "native without admins",
        both(native_auth, setting("hub.auth.native.admin_users", [])),
        "hub.auth.native.admin_users",
    ),
    (
        "native admin name invalid",
        both(native_auth, setting("hub.auth.native.admin_users", ["A B"])),
        "hub.auth.native.admin_users[0]",
    ),
    ("dummy with public domain", setting("hub.auth.type", "dummy"), "hub.auth.type: 'dummy'"),
    ("auth type unknown", setting("hub.auth.type", "ldap"), "hub.auth.type"),
    (
        "memory quantity invalid",
        setting("hub.profiles.0.memory.limit", "2 gigs"),
        "hub.profiles[0].memory.limit",
    ),
    (
        "cpu quantity invalid",
        setting("hub.profiles.1.cpu.limit", "lots"),
        "hub.profiles[1].cpu.limit",
    ),
    ("cpu negative", setting("hub.profiles.1.cpu.guarantee", -1), "hub.profiles[1].cpu.guarantee"),
    (
        "memory guarantee above limit",
        setting("hub.profiles.0.memory.guarantee", "4G"),
        "hub.profiles[0].memory.guarantee: 4G exceeds",
    ),
    (
        "cpu guarantee above limit",
        setting("hub.profiles.1.cpu.guarantee", 16),
        "hub.profiles[1].cpu.guarantee",
    ),
    (
        "duplicate profile names",
        setting("hub.profiles.1.name", "default"),
        "hub.profiles: names must be unique",
    ),
    ("two default profiles", setting("hub.profiles.1.default", True), "hub.profiles: exactly one"),
    ("no default profile", setting("hub.profiles.0.default", False), "hub.profiles: exactly one"),
    ("gpu profile without gpu workers", NO_GPU_NODES, "cluster.gpu.enabled"),
    (
        "placeholders on a non-default profile",
        setting("hub.placeholders.profile", "large"),
        "hub.placeholders.profile",
    ),
    ("profile unknown key", setting("hub.profiles.0.ram", "2G"), "hub.profiles[0].ram"),
    (
        "profile image invalid",
        setting("hub.profiles.2.image", "Not An Image"),
        "hub.profiles[2].image",
    ),
    (
        "storage below cinder minimum",
        setting("hub.storage.capacity", "512Mi"),
        "hub.storage.capacity",
    ),
    (
        "reclaim policy unknown",
        setting("hub.storage.reclaim_policy", "Recycle"),
        "hub.storage.reclaim_policy",
    ),
    ("culling too frequent", setting("hub.culling.every_seconds", 5), "hub.culling.every_seconds"),
    ("sudo not boolean", setting("hub.sudo", "maybe"), "hub.sudo"),
    ("chart version invalid", setting("hub.chart.version", "latest"), "hub.chart.version"),
    ("monitoring expose unknown", setting("monitoring.expose", "nodeport"), "monitoring.expose"),
    ("retention invalid", setting("monitoring.retention", "two weeks"), "monitoring.retention"),
    (
        "retention size invalid",
        setting("monitoring.retention_size", "40 gigs"),
        "monitoring.retention_size",
    ),
    ("priority class invalid", setting("gpu.priority_class", "sometimes"), "gpu.priority_class"),
    (
        "custom driver without registry",
        both(setting("gpu.driver.custom", True), setting("gpu.driver.registry", "")),
        "gpu.driver.registry",
    ),
    ("driver version invalid", setting("gpu.driver.version", "latest"), "gpu.driver.version"),
]


def write_config(folder: Path, name: str, mutation: Mutation) -> None:
    config = copy.deepcopy(EXAMPLE)
    mutation(config)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def assert_refused(result: TaskRun, expected: str) -> None:
    assert result.code == 2, f"exit {result.code}; stderr: {result.err}"
    assert expected in result.err, f"{expected!r} not named in: {result.err}"
    for line in result.err.strip().splitlines():
        assert line.startswith(("error:", "  ")), f"not a one-line error: {line!r}"
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [pytest.param(m, e, id=i) for i, m, e in CONFIG_CASES],
)
def test_bad_config_is_refused_offline(
    config_dir: Path,
    run_task: Callable[..., TaskRun],
    socket_disabled: None,
    mutation: Mutation,
    expected: str,
) -> None:
    write_config(config_dir, "broken", mutation)
    assert_refused(run_task("plan", "--env", "broken"), expected)


def test_corpus_is_large_enough() -> None:
    assert len(CONFIG_CASES) + len(OPTION_CASES) + 6 >= 40


def test_every_problem_is_reported_at_once(
    config_dir: Path, run_task: Callable[..., TaskRun], socket_disabled: None
) -> None:
    write_config(
        config_dir,
        "broken",
        both(
            setting("cluster.driver", "k3s"),
            setting("hub.floating_ip", "nope"),
            setting("monitoring.expose", "nodeport"),
        ),
    )
    result = run_task("config.check", "--env", "broken")
    assert result.code == 2
    for key in ("cluster.driver", "hub.floating_ip", "monitoring.expose"):
        assert key in result.err


def test_yaml_syntax_error_names_the_line(
    config_dir: Path, run_task: Callable[..., TaskRun], socket_disabled: None
) -> None:
    (config_dir / "broken.yaml").write_text("cluster:\n  name: [unclosed\nhub: {}\n")
    result = run_task("plan", "--env", "broken")
    assert result.code == 2
    assert "broken.yaml:" in result.err and "not valid YAML" in result.err


def test_missing_environment_file_points_at_init(
    config_dir: Path, run_task: Callable[..., TaskRun], socket_disabled: None
) -> None:
    result = run_task("plan", "--env", "nothere")
    assert result.code == 2
    assert "invoke config.init --env nothere" in result.err


# ---------------------------------------------------------------- options and secrets

OPTION_CASES: list[tuple[list[str], str]] = [
    (["plan", "--env", "Bad!"], "option --env"),
    (["plan", "--env", "../etc"], "option --env"),
    (["config.init", "--env", "dev", "--auth", "ldap"], "option --auth"),
    (["config.init", "--env", "dev", "--domain", "bad domain"], "option --domain"),
    (["config.init", "--env", "example"], "option --env"),
]


@pytest.mark.parametrize(("argv", "expected"), OPTION_CASES)
def test_bad_option_is_refused(
    config_dir: Path,
    run_task: Callable[..., TaskRun],
    socket_disabled: None,
    argv: list[str],
    expected: str,
) -> None:
    assert_refused(run_task(*argv), expected)
    assert not (config_dir / "dev.yaml").exists()


def test_init_refuses_to_overwrite_without_force(
    config_dir: Path, run_task: Callable[..., TaskRun], socket_disabled: None
) -> None:
    assert run_task("config.init", "--env", "dev").code == 0
    before = (config_dir / "dev.secrets.yaml").read_text()
    assert_refused(run_task("config.init", "--env", "dev"), "option --force")
    assert (config_dir / "dev.secrets.yaml").read_text() == before
    assert run_task("config.init", "--env", "dev", "--force").code == 0
    assert (config_dir / "dev.secrets.yaml").read_text() != before


def test_missing_secrets_file_is_refused_by_check(
    config_dir: Path, run_task: Callable[..., TaskRun], socket_disabled: None
) -> None:
    write_config(config_dir, "dev", lambda config: None)
    assert_refused(
        run_task("config.check", "--env", "dev"), "dev.secrets.yaml: secrets file not found"
    )


def test_world_readable_secrets_are_refused(
    config_dir: Path, run_task: Callable[..., TaskRun], socket_disabled: None
) -> None:
    assert run_task("config.init", "--env", "dev").code == 0
    os.chmod(config_dir / "dev.secrets.yaml", 0o644)
    result = run_task("plan", "--env", "dev")
    assert_refused(result, "mode 0644")
    assert "chmod 600" in result.err


def test_malformed_secret_is_named(
    config_dir: Path, run_task: Callable[..., TaskRun], socket_disabled: None
) -> None:
    assert run_task("config.init", "--env", "dev").code == 0
    path = config_dir / "dev.secrets.yaml"
    data = yaml.safe_load(path.read_text())
    data["proxy_secret_token"] = "short"
    path.write_text(yaml.safe_dump(data))
    assert_refused(run_task("config.check", "--env", "dev"), "secrets.proxy_secret_token")


def test_empty_oauth_client_secret_is_refused(
    config_dir: Path, run_task: Callable[..., TaskRun], socket_disabled: None
) -> None:
    assert run_task("config.init", "--env", "dev", "--auth", "oauth").code == 0
    assert_refused(run_task("config.check", "--env", "dev"), "secrets.oauth_client_secret")


def test_unknown_secret_key_is_refused(
    config_dir: Path, run_task: Callable[..., TaskRun], socket_disabled: None
) -> None:
    assert run_task("config.init", "--env", "dev").code == 0
    path = config_dir / "dev.secrets.yaml"
    path.write_text(path.read_text() + "grafana_pasword: x\n")
    assert_refused(run_task("config.check", "--env", "dev"), "secrets.grafana_pasword: unknown key")


def test_environment_override_is_validated(
    config_dir: Path,
    run_task: Callable[..., TaskRun],
    socket_disabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JHUB__HUB__FLOATING_IP", "300.1.1.1")
    assert_refused(run_task("plan"), "hub.floating_ip")
