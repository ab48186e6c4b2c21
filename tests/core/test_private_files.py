"""Private files: owner-only from creation, replaced whole."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from scripts.core.private_files import write_private


def test_new_file_is_owner_only_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_private(tmp_path / "deep" / "secret.yaml", "token: x\n")
    finally:
        os.umask(old)
    path = tmp_path / "deep" / "secret.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "token: x\n"


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    write_private(path, b"old")
    with pytest.raises(TypeError):
        write_private(path, 42)  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["kubeconfig"]
