"""core.releases against the recording helm: what makes a release unchanged, and rescue."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from scripts.core import helm, releases
from scripts.core.changes import Changes
from scripts.core.console import Console
from scripts.core.errors import BadInput, OperationFailed
from tests.support.fake_helm import FakeHelm

RELEASE = releases.Release("demo", "ns", "1.2.0", {"a": 1}, timeout_seconds=60)
LONG_AGO = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)


def plan(values: dict[str, int] | None = None) -> releases.Plan:
    wanted = RELEASE if values is None else releases.Release("demo", "ns", "1.2.0", values, 60)
    return releases.plan(helm.Helm(), wanted)


def leave(fake: FakeHelm, *statuses: str, version: str = "1.2.0") -> None:
    fake.leave("demo", "ns", list(statuses), chart="demo", version=version, values={"a": 1})


def test_unchanged_needs_deployed_same_chart_and_same_values(fake_helm: FakeHelm) -> None:
    assert plan().action == "install"
    leave(fake_helm, "deployed")
    assert plan().action == "unchanged"
    found = plan({"a": 2})
    assert (found.action, found.reason) == ("upgrade", "1 value(s) changed")
    leave(fake_helm, "deployed", version="v1.1.0")
    assert plan().reason == "chart v1.1.0 → 1.2.0"
    leave(fake_helm, "superseded", "failed")
    assert plan().reason == "last revision 2 is failed"


def test_pending_is_blocked_and_uninstalling_is_refused(fake_helm: FakeHelm) -> None:
    for status in ("pending-install", "pending-upgrade", "pending-rollback"):
        leave(fake_helm, "deployed", status)
        assert plan().action == "blocked"
    leave(fake_helm, "deployed", "uninstalling")
    with pytest.raises(OperationFailed, match="is being uninstalled"):
        plan()


def test_the_deployed_revision_is_the_newest_deployed_one(fake_helm: FakeHelm) -> None:
    leave(fake_helm, "superseded", "deployed", "failed", "pending-upgrade")
    found = plan()
    assert found.deployed is not None and found.deployed.revision == 2
    assert releases.remedy_command(RELEASE, found) == "helm rollback demo 2 --namespace ns"
    leave(fake_helm, "failed", "pending-upgrade")
    assert releases.remedy_command(RELEASE, plan()) == "helm uninstall demo --namespace ns"


@pytest.mark.parametrize(
    ("stamp", "seconds"),
    [
        ("2026-06-01T00:00:00.08098177Z", 3600.0 - 0.080981),  # helm 4: nanoseconds
        ("2026-06-01T00:00:00Z", 3600.0),
        ("2026-06-01 00:00:00 +0000 UTC", None),  # helm list's form is not history's
    ],
)
def test_age_of_helm_time_stamps(stamp: str, seconds: float | None) -> None:
    now = LONG_AGO + datetime.timedelta(hours=1)
    found = releases.age_seconds(stamp, now)
    if seconds is None:
        assert found is None
    else:
        assert found == pytest.approx(seconds, abs=1e-5)


def recover(fake: FakeHelm, *, yes: bool, dry_run: bool = False) -> Changes:
    changes = Changes(Console(), dry_run=dry_run)
    found = plan()
    releases.recover(
        helm.Helm(),
        RELEASE,
        found,
        Console(),
        changes,
        yes=yes,
        now=datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC),
    )
    return changes


def test_recovery_rolls_back_asks_first_and_plans_in_a_dry_run(
    fake_helm: FakeHelm, tmp_path: Path
) -> None:
    leave(fake_helm, "deployed", "pending-upgrade")
    planned = recover(fake_helm, yes=False, dry_run=True)
    assert planned.made == ["(dry run) helm rollback demo 1 --namespace ns --wait"]
    assert fake_helm.rollbacks() == []
    with pytest.raises(BadInput, match="option --yes"):
        recover(fake_helm, yes=False)
    recover(fake_helm, yes=True)
    assert [r["status"] for r in fake_helm.history("demo", "ns")] == [
        "superseded",
        "pending-upgrade",
        "deployed",
    ]
    assert plan().action == "unchanged"
