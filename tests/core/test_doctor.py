"""doctor's checks against real files and the real helm binary."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import doctor


def test_clouds_yaml_entry_found_and_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OS_CLIENT_CONFIG_FILE", raising=False)
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  jupyter-development:\n    auth: {auth_url: https://k.example.org}\n"
    )
    assert doctor.clouds_yaml_entry("jupyter-development", (clouds,)).ok
    missing = doctor.clouds_yaml_entry("jupyter-prod", (clouds,))
    assert not missing.ok and "jupyter-prod" in missing.detail
    clouds.write_text("clouds: [unclosed\n")
    assert "not valid YAML" in doctor.clouds_yaml_entry("x", (clouds,)).detail


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ("v3.16.2+g13654a5", 3),
        ("v4.1.4+g05fa379", 4),
        ('version.BuildInfo{Version:"v3.9.0"}', 3),
        ("", None),
    ],
)
def test_helm_major(output: str, major: int | None) -> None:
    assert doctor.helm_major(output) == major


def test_real_helm_passes(helm_binary: str) -> None:
    check = doctor.helm(helm_binary)
    assert check.ok, check.detail


def test_helm_that_does_not_run_fails(tmp_path: Path) -> None:
    check = doctor.helm(str(tmp_path / "no-such-helm"))
    assert not check.ok and check.hint
