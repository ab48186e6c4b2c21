"""Fixtures of the local-stack tests: the recording helm on JHUB_HELM."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fake_helm import FakeHelm, install


@pytest.fixture
def fake_helm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHelm:
    fake = install(tmp_path / "fake-helm")
    monkeypatch.setenv("JHUB_HELM", str(fake.binary))
    return fake
