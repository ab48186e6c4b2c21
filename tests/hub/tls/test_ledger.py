"""The attempt ledger: the weekly guard, and a file that survives being killed mid-write."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scripts.core.errors import BadInput, OperationFailed
from scripts.hub.tls.ledger import REFUSE_AT, WINDOW, Ledger
from tests.hub.tls.helpers import DOMAIN, NOW, ROOT


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "example.state" / "letsencrypt-attempts.json")


def fill(ledger: Ledger, count: int, *, days_ago: float, server: str = "production") -> None:
    for index in range(count):
        when = NOW - dt.timedelta(days=days_ago, minutes=index)
        ledger.record(DOMAIN, server, when, outcome="dns")  # type: ignore[arg-type]


def test_fifth_attempt_within_seven_days_is_refused(ledger: Ledger) -> None:
    fill(ledger, REFUSE_AT - 1, days_ago=2)
    assert ledger.require_room(DOMAIN, NOW, force=False).used == 3
    ledger.record(DOMAIN, "production", NOW - dt.timedelta(hours=1))
    with pytest.raises(OperationFailed) as refused:
        ledger.require_room(DOMAIN, NOW, force=False)
    assert refused.value.cause.startswith(f"4 production attempt(s) for {DOMAIN} in the last 7")
    # The oldest of the four (2 days and 2 minutes ago) frees its slot 7 days after it.
    oldest = NOW - dt.timedelta(days=2, minutes=2)
    assert f"wait until {oldest + WINDOW:%Y-%m-%d %H:%M} UTC" in refused.value.remedy
    assert "--staging" in refused.value.remedy and "--force" in refused.value.remedy


def test_force_overrides_a_full_week(ledger: Ledger) -> None:
    fill(ledger, REFUSE_AT, days_ago=1)
    allowance = ledger.require_room(DOMAIN, NOW, force=True)
    assert allowance.full and allowance.used == REFUSE_AT


def test_entries_older_than_seven_days_do_not_count(ledger: Ledger) -> None:
    fill(ledger, 6, days_ago=7)  # exactly 7 days ago and earlier: outside the rolling window
    fill(ledger, REFUSE_AT - 1, days_ago=6.9)
    assert ledger.require_room(DOMAIN, NOW, force=False).used == REFUSE_AT - 1
    assert len(ledger.attempts()) == 6 + REFUSE_AT - 1


def test_staging_and_other_domains_do_not_count(ledger: Ledger) -> None:
    fill(ledger, 10, days_ago=1, server="staging")
    for index in range(5):
        ledger.record("other.example.org", "production", NOW - dt.timedelta(minutes=index))
    assert ledger.allowance(DOMAIN, NOW).used == 0


def test_outcome_is_settled_on_the_recorded_attempt(ledger: Ledger) -> None:
    attempt = ledger.record(DOMAIN, "production", NOW)
    ledger.settle(attempt, "obtained")
    [stored] = ledger.attempts()
    assert (stored.id, stored.outcome, stored.time) == (attempt.id, "obtained", NOW)
    on_disk = json.loads(ledger.path.read_text())
    assert on_disk["attempts"][0]["time"] == "2026-07-10T12:00:00+00:00"


def test_an_unreadable_ledger_refuses_instead_of_forgetting(ledger: Ledger) -> None:
    ledger.path.parent.mkdir(parents=True)
    ledger.path.write_text('{"attempts": [{"time": "2026-07-')
    with pytest.raises(BadInput, match="unreadable") as refused:
        ledger.allowance(DOMAIN, NOW)
    assert "crt.sh" in str(refused.value)


def test_a_ledger_that_is_a_directory_or_not_utf8_is_bad_input(ledger: Ledger) -> None:
    ledger.path.mkdir(parents=True)
    with pytest.raises(BadInput, match="is a directory"):
        ledger.attempts()
    ledger.path.rmdir()
    ledger.path.write_bytes(b'{"attempts": [\xff]}')
    with pytest.raises(BadInput, match="not UTF-8"):
        ledger.attempts()


# A child process records an attempt and is SIGKILLed at the named os call: the
# moment between writing the new ledger and making it the ledger.
CRASHING_WRITER = textwrap.dedent(
    """
    import datetime as dt, os, signal, sys
    sys.path.insert(0, sys.argv[1])
    from pathlib import Path
    from scripts.hub.tls.ledger import Ledger

    def crash(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    setattr(os, sys.argv[3], crash)
    Ledger(Path(sys.argv[2])).record(
        "jupyter.example.org", "production", dt.datetime.now(dt.UTC), outcome="killed"
    )
    """
)


@pytest.mark.parametrize("crash_at", ["fsync", "replace"])
def test_the_ledger_survives_a_crash_mid_write(ledger: Ledger, crash_at: str) -> None:
    fill(ledger, 3, days_ago=1)
    before = ledger.path.read_bytes()
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, str(ROOT), str(ledger.path), crash_at],
        capture_output=True,
        timeout=60,
        check=False,
    )
    # Died where it was told to: the write was in progress, not finished or skipped.
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    assert ledger.path.read_bytes() == before
    assert [a.outcome for a in ledger.attempts()] == ["dns", "dns", "dns"]
    leftovers = list(ledger.path.parent.glob(".letsencrypt-attempts.json.*.tmp"))
    assert leftovers, "the killed writer should have left its temporary file"

    ledger.record(DOMAIN, "production", NOW)
    assert len(ledger.attempts()) == 4
    assert not list(ledger.path.parent.glob(".letsencrypt-attempts.json.*.tmp"))
