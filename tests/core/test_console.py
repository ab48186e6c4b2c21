"""Output: numbered steps with outcomes, and redaction of known secrets everywhere."""

from __future__ import annotations

import pytest

from scripts.core.console import REDACTED, Console, redact, register_secrets
from scripts.core.errors import OperationFailed


def test_known_secrets_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    ui = Console()
    ui.add_secrets(["s3cret-token-value", "s3cret"])
    ui.print("token=s3cret-token-value and s3cret")
    ui.warn("retrying with s3cret-token-value")
    captured = capsys.readouterr()
    assert "s3cret" not in captured.out + captured.err
    assert captured.out.count(REDACTED) == 2


def test_short_values_are_not_treated_as_secrets() -> None:
    register_secrets(["abc"])
    assert redact("abc") == "abc"


def test_steps_are_numbered_with_their_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    ui = Console()
    with ui.step("Ensure namespace jhub") as step:
        step.unchanged("exists")
    with ui.step("Create storage class"):
        pass
    with pytest.raises(OperationFailed), ui.step("Install release"):
        raise OperationFailed("boom")
    out = capsys.readouterr().out
    assert "–  1. Ensure namespace jhub — exists" in out
    assert "✓  2. Create storage class" in out
    assert "✗  3. Install release" in out
