"""The unit rule: a quantity in the config means what it means to Kubernetes.

Expected figures are worked out by hand: G = 10^9, Gi = 2^30, m = 1/1000.
Bad values are refused by `plan` and `config.check` with exit 2 and the key named,
before any network call; native usernames follow NativeAuthenticator 1.3's rule.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.core.quantities import cpu_millicores, memory_bytes
from tests.conftest import ROOT, TaskRun

EXAMPLE: dict[str, Any] = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
Run = Callable[..., TaskRun]


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("1.8G", 1_800_000_000),
        ("2G", 2_000_000_000),
        ("2000M", 2_000_000_000),
        ("2Gi", 2_147_483_648),
        ("7Gi", 7_516_192_768),
        ("512Mi", 536_870_912),
        ("1.5Gi", 1_610_612_736),
        ("128974848", 128_974_848),
        ("129e6", 129_000_000),
        ("1k", 1_000),
        (2_147_483_648, 2_147_483_648),
        (1.8e9, 1_800_000_000),
        # Kubernetes rounds a fraction of a byte up: 1.1Ki = 1126.4 B.
        ("1.1Ki", 1_127),
        ("0", 0),
    ],
)
def test_memory_reads_as_kubernetes_does(written: str | int | float, meant: int) -> None:
    assert memory_bytes(written) == meant


@pytest.mark.parametrize(
    ("written", "meant"),
    [("500m", 500), ("0.5", 500), (0.5, 500), (2, 2000), ("2", 2000), ("0.05", 50), ("1e-1", 100)],
)
def test_cpu_reads_as_kubernetes_does(written: str | int | float, meant: int) -> None:
    assert cpu_millicores(written) == meant


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("512K", "K is not a Kubernetes unit"),
        ("2GB", "no B after the unit"),
        ("2 gigs", "not a memory quantity"),
        ("500m", "m means thousandths"),
        (math.inf, "not a finite number"),
        (math.nan, "not a finite number"),
        ("inf", "not a memory quantity"),
        (-1, "negative"),
        (True, "not a memory quantity"),
    ],
)
def test_memory_refusals_say_why(written: Any, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        memory_bytes(written)


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("1.5m", "finer than a millicore"),
        (0.0005, "finer than a millicore"),
        ("0", "not a positive"),
        (math.inf, "not a finite number"),
        ("2Gi", "not a CPU quantity"),
        ("two", "not a CPU quantity"),
    ],
)
def test_cpu_refusals_say_why(written: Any, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        cpu_millicores(written)


def write(config_dir: Path, change: Callable[[dict[str, Any]], None], name: str = "units") -> None:
    config = copy.deepcopy(EXAMPLE)
    change(config)
    (config_dir / f"{name}.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def set_profile(index: int, section: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        config["hub"]["profiles"][index][section][key] = value

    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (set_profile(1, "memory", "limit", "8K"), "hub.profiles[1].memory.limit: '8K'"),
        (set_profile(0, "memory", "guarantee", "500m"), "hub.profiles[0].memory.guarantee"),
        (set_profile(1, "cpu", "limit", ".inf"), "hub.profiles[1].cpu.limit"),
        (set_profile(1, "cpu", "guarantee", "0.5m"), "hub.profiles[1].cpu.guarantee"),
        (set_profile(0, "memory", "limit", "0"), "hub.profiles[0].memory.limit: must be above 0"),
    ],
)
def test_bad_quantities_stop_plan_with_the_key_named(
    config_dir: Path, run_task: Run, socket_disabled: None, change: Any, expected: str
) -> None:
    write(config_dir, change)
    result = run_task("plan", "--env", "units")
    assert result.code == 2, result.err
    assert expected in result.err
    assert "Traceback" not in result.err


def test_kubernetes_forms_pass_plan(config_dir: Path, run_task: Run, socket_disabled: None) -> None:
    def forms(config: dict[str, Any]) -> None:
        config["hub"]["profiles"][0]["cpu"] = {"guarantee": "500m", "limit": "1"}
        config["hub"]["profiles"][0]["memory"] = {"guarantee": "2000M", "limit": "2Gi"}
        config["hub"]["profiles"][1]["memory"] = {"guarantee": 7516192768, "limit": "7Gi"}

    write(config_dir, forms)
    result = run_task("plan", "--env", "units")
    assert result.code == 0, result.err


# ------------------------------------------------------------------ native usernames


def native(admins: list[str], allowed: list[str] | None = None) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        config["hub"]["auth"] = {
            "type": "native",
            "native": {"admin_users": admins, "allowed_users": allowed or []},
        }

    return change


def test_names_native_authenticator_allows_pass_and_are_lowercased(
    config_dir: Path, run_task: Run, socket_disabled: None
) -> None:
    write(config_dir, native(["john.smith", "j_doe", "someAdminUser1"], ["ann@lab", "Émile"]))
    result = run_task("plan", "--env", "units")
    assert result.code == 0, result.err
    values = yaml.safe_load(
        (
            Path(str(config_dir)).parent / "build" / "units" / "values" / "jupyterhub.yaml"
        ).read_text()
    )
    authenticator = values["hub"]["config"]["Authenticator"]
    # JupyterHub stores names lowercased (Authenticator.normalize_username).
    assert authenticator["admin_users"] == ["john.smith", "j_doe", "someadminuser1"]
    assert authenticator["allowed_users"] == ["ann@lab", "émile"]


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("a,b", "contains ','"),
        ("ann smith", "contains ' '"),
        ("ops/ann", "contains '/'"),
        ("..", "is only dots"),
        ("%2e%2e", "is only dots"),
        ("x" * 129, "longer than 128"),
    ],
)
def test_names_native_authenticator_refuses_are_refused(
    config_dir: Path, run_task: Run, socket_disabled: None, name: str, words: str
) -> None:
    write(config_dir, native(["hubadmin", name]))
    result = run_task("plan", "--env", "units")
    assert result.code == 2
    assert "hub.auth.native.admin_users[1]" in result.err
    assert words in result.err
