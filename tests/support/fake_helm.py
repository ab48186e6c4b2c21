"""A recording, stateful stand-in for the `helm` executable that answers as helm 4 does.

`install(directory)` writes an executable `helm` there (this file's SCRIPT, run by the
current Python) and beside it `helm4_recorded.json`: what the real helm 4.1.4 printed,
with its exit codes and the revision states it left, for every outcome below. That file
is made by ``python -m tests.support.record_helm`` from the real binary against the
Kubernetes emulator, and tests/test_fake_helm.py checks it is still what helm says.

Each call appends one JSON line to `calls.jsonl`: the argv, and for `--values FILE` the
file's mode and content *as helm saw them*, so tests can prove the values never reached
argv and that the file was private and gone afterwards; signals received are logged too.

Releases live in `releases.json` with their revisions, as helm's storage keeps them:
`upgrade --install` writes a `pending-install`/`pending-upgrade` revision first, does its
work, then marks it `deployed` (the previous one `superseded`) or `failed`; `get values`
answers for the last revision whatever its state; `history`, `list`, `rollback`,
`uninstall` and `show crds` follow helm 4 (helm/helm v4.1.4 pkg/action/*.go).

What a test can make it do (see FakeHelm):

* `leave(...)`: a release whose last revision is `failed`, `pending-upgrade`, ... as an
  earlier run left it; helm then refuses upgrades of a pending release with "another
  operation (install/upgrade/rollback) is in progress" (upgrade.go errPending).
* `take(release, hooks=, wait=)`: how long the hooks and the wait for resources take,
  each checked against `--timeout` on its own, as helm does (a phase longer than
  `--timeout` fails the release with helm's "context deadline exceeded" message);
  `hang(release)`: the operation never ends by itself.
* SIGTERM during an operation: "Release X has been cancelled.", the revision marked
  `failed`, exit 1 (pkg/cmd/upgrade.go and install.go handle the signal); SIGKILL leaves
  the revision pending, since nothing runs to record the end.
* `conflict(release, ...)`: an object of the chart belongs to another release; helm
  refuses with its ownership message (pkg/action/validate.go) and stores no revision.
* `fail(command, stderr)` / `fail_release(release, stderr)`: an error before helm writes
  anything (chart download, kubeVersion check), printed as given, exit 1.
* `chart_crds(chart, version, text)`: what `helm show crds` prints for that chart version.
* `slow(command, seconds)`: a delay before the call starts its work (benchmarks).

A real `helm install` of the project's charts cannot run here (no chart repository, and
the emulator serves no OpenAPI document), which is why releases are tested through this
recorder, and `helm template`, the read commands and the recording with the real binary.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

RECORDED = Path(__file__).with_name("helm4_recorded.json")

SCRIPT = r"""
import datetime, fcntl, json, os, re, signal, stat, sys, time
from pathlib import Path
import yaml

home = Path(os.environ.get("FAKE_HELM_HOME") or Path(__file__).parent)
said = json.loads((home / "helm4_recorded.json").read_text())
argv = sys.argv[1:]
command = argv[0] if argv else ""
record = {"argv": argv}

def option(name):
    if name in argv:
        return argv[argv.index(name) + 1]
    return None

values_path = option("--values") or option("-f")
values = None
if values_path:
    info = os.stat(values_path)
    record["values_mode"] = stat.S_IMODE(info.st_mode)
    record["values_path"] = values_path
    record["values_text"] = Path(values_path).read_text()
    values = yaml.safe_load(record["values_text"]) or {}

def log(entry):
    with open(home / "calls.jsonl", "a") as handle:
        handle.write(json.dumps(entry) + "\n")

log(record)
started = time.time()

TAKES_VALUE = {"--namespace", "-n", "--repo", "--version", "--values", "-f", "--timeout",
               "--kubeconfig", "-o", "--output", "--filter", "--max"}

def positional(index):
    found, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in TAKES_VALUE:
            skip = True
        elif not arg.startswith("-"):
            found.append(arg)
    return found[index] if len(found) > index else None

def say(entry, **names):
    text = entry.get("stdout", "")
    err = entry.get("stderr", "")
    names.setdefault("deployed", time.strftime("%a %b %e %H:%M:%S %Y"))
    sys.stdout.write(text.format(**names))
    sys.stderr.write(err.format(**names))
    sys.stdout.flush()
    sys.stderr.flush()

def finish(code):
    with open(home / "timings.jsonl", "a") as handle:
        handle.write(json.dumps({"argv": argv, "started": started, "ended": time.time()}) + "\n")
    sys.exit(code)

def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

def seconds(text):
    # Go durations as helm's --timeout takes them: 900s, 15m, 1m30s, 2h (default 5m0s).
    if not text:
        return 300.0
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)(ms|h|m|s)", text):
        total += float(number) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total

namespace = option("--namespace") or option("-n") or "default"
lock = open(home / "helm.lock", "w")
# Real helm keeps release records as Secrets in the cluster it talks to (helm
# pkg/storage/driver/secrets.go, read at 02ad2b11); a kubeconfig given its own
# cluster (FakeHelm.separate) gets its own records, every other one shares releases.json.
clusters_path = home / "clusters.json"
separate = json.loads(clusters_path.read_text()) if clusters_path.exists() else {}
state_path = home / separate.get(option("--kubeconfig") or "", "releases.json")

def load():
    return json.loads(state_path.read_text()) if state_path.exists() else {}

def save(releases):
    state_path.write_text(json.dumps(releases))

signals = {"inside": 0, "deferred": False}

class Locked:
    # A SIGTERM that arrives while the state file is open is handled right after it.
    def __enter__(self):
        signals["inside"] += 1
        fcntl.flock(lock, fcntl.LOCK_EX)
        self.releases = load()
        return self.releases
    def __exit__(self, *exc):
        save(self.releases)
        fcntl.flock(lock, fcntl.LOCK_UN)
        signals["inside"] -= 1
        if signals["deferred"] and not signals["inside"]:
            signals["deferred"] = False
            on_sigterm(signal.SIGTERM, None)

def chart_of(revision):
    return f'{revision["chart"]}-{revision["version"]}'

APP_VERSIONS = {"jupyterhub": "5.5.0", "kube-prometheus-stack": "v0.93.1",
                "gpu-operator": "v26.7.0"}

delay = home / f"delay-{command}"
if delay.exists():
    # Stands in for the minutes a real install waits on pods.
    time.sleep(float(delay.read_text()))

fault = home / f"fail-{command}"
if fault.exists():
    sys.stderr.write(fault.read_text())
    finish(1)

def missing(entry, name):
    say(said[entry], name=name, namespace=namespace)
    finish(said[entry]["exit"])

# ---------------------------------------------------------------- operations with phases
current = {}

def mark(status, description):
    with Locked() as releases:
        release = releases.get(current["key"])
        if release is None:
            return
        revision = release["revisions"][-1]
        revision["status"], revision["description"] = status, description
        revision["updated"] = now()
        if status == "deployed":
            for older in release["revisions"][:-1]:
                if older["status"] == "deployed":
                    older["status"] = "superseded"

def on_sigterm(signum, frame):
    if signals["inside"]:
        signals["deferred"] = True
        return
    log({"signal": "SIGTERM", "argv": argv})
    if not current:
        sys.stderr.write("Error: context canceled\n")
        finish(1)
    kind = current["kind"]
    entry = said[f"{kind}_sigterm"]
    mark("failed", entry["description"].format(name=current["name"]))
    say(entry, name=current["name"], namespace=namespace)
    finish(entry["exit"])

signal.signal(signal.SIGTERM, on_sigterm)

def phases(name):
    # Each phase (pre/post hooks, the wait for resources) has --timeout to itself.
    plan_path = home / f"take-{name}.json"
    plan = json.loads(plan_path.read_text()) if plan_path.exists() else {}
    if plan.get("hang"):
        while True:
            time.sleep(0.05)
    timeout = seconds(option("--timeout"))
    scale = float(plan.get("scale", 1.0))
    steps = [("hooks", plan.get("hooks", 0.0))]
    if "--wait" in argv or any(a.startswith("--wait=") for a in argv):
        steps.append(("wait", plan.get("wait", 0.0)))
    for _step, took in steps:
        if took > timeout:
            time.sleep(timeout * scale)
            return False
        time.sleep(took * scale)
    return True

def run_phases(kind, name, resource):
    if phases(name):
        return True
    entry = said[f"{kind}_timeout"]
    names = {"name": name, "namespace": namespace, "resource": resource}
    mark("failed", entry["description"].format(**names))
    say(entry, **names)
    finish(entry["exit"])

# ---------------------------------------------------------------- commands
if command == "version":
    version = home / "version.txt"
    print(version.read_text().strip() if version.exists() else said["version_short"])
    finish(0)

elif command == "upgrade":
    name, chart = positional(1), positional(2)
    release_fault = home / f"fail-upgrade-{name}"
    if release_fault.exists():
        sys.stderr.write(release_fault.read_text())
        finish(1)
    key = f"{namespace}/{name}"
    chart_name = chart.rsplit("/", 1)[-1]
    conflict_path = home / f"conflict-{name}.json"
    with Locked() as releases:
        release = releases.get(key)
        kind = "install" if release is None else "upgrade"
        if conflict_path.exists():
            taken = json.loads(conflict_path.read_text())
            entry = said[f"{kind}_conflict"]
            names = {"name": name, "namespace": namespace, **taken}
            # The namespace in the message is the object's ("" when cluster-scoped).
            stderr = entry["stderr"].replace('in namespace \"{namespace}\" exists',
                                              'in namespace \"{object_namespace}\" exists')
            sys.stdout.write(entry["stdout"].format(**names))
            sys.stderr.write(stderr.format(**names))
            lock_release = True
        else:
            lock_release = False
        if not lock_release and release is not None:
            last = release["revisions"][-1]
            if last["status"].startswith("pending-"):
                say(said["pending"], name=name, namespace=namespace)
                blocked = True
            else:
                blocked = False
        else:
            blocked = False
        if not lock_release and not blocked:
            if release is None:
                release = releases[key] = {"name": name, "namespace": namespace,
                                           "revisions": []}
            number = (release["revisions"][-1]["revision"] if release["revisions"] else 0) + 1
            pending = said[f"{kind}_sigkill"]
            release["revisions"].append({
                "revision": number, "status": pending["status"], "chart": chart_name,
                "version": option("--version") or "0.1.0",
                "app_version": APP_VERSIONS.get(chart_name, "1.0"),
                "values": values or {}, "updated": now(), "description": pending["description"],
            })
            current.update({"key": key, "name": name, "kind": kind})
    if lock_release:
        finish(said[f"{kind}_conflict"]["exit"])
    if blocked:
        finish(said["pending"]["exit"])
    if kind == "install":
        sys.stdout.write(said["install"]["stdout"].split("\n", 1)[0].format(name=name) + "\n")
        sys.stdout.flush()
    run_phases(kind, name, f"Deployment/{namespace}/{name}")
    mark("deployed", said[kind]["description"])
    text = said[kind]["stdout"]
    if kind == "install":
        text = text.split("\n", 1)[1]
    with Locked() as releases:
        number = releases[key]["revisions"][-1]["revision"]
    text = re.sub(r"REVISION: \d+", f"REVISION: {number}", text)
    say({"stdout": text}, name=name, namespace=namespace)
    current.clear()
    finish(0)

elif command == "rollback":
    name, wanted = positional(1), positional(2)
    key = f"{namespace}/{name}"
    with Locked() as releases:
        release = releases.get(key)
        target = None
        if release is not None:
            numbers = [r["revision"] for r in release["revisions"]]
            number = int(wanted) if wanted else numbers[-1] - 1
            target = next((r for r in release["revisions"] if r["revision"] == number), None)
            if target is not None:
                release["revisions"].append({
                    **target, "revision": numbers[-1] + 1, "status": "pending-rollback",
                    "updated": now(), "description": f"Rollback to {number}",
                })
                current.update({"key": key, "name": name, "kind": "upgrade"})
    if release is None:
        missing("history_missing", name)
    if target is None:
        say(said["rollback_missing_revision"], revision=number)
        finish(said["rollback_missing_revision"]["exit"])
    run_phases("upgrade", name, f"Deployment/{namespace}/{name}")
    mark("deployed", said["rollback"]["description"].format(revision=number))
    with Locked() as releases:
        # helm marks every earlier deployed revision superseded (rollback.go performRollback).
        for older in releases[key]["revisions"][:-1]:
            if older["status"] == "deployed":
                older["status"] = "superseded"
    current.clear()
    say(said["rollback"])
    finish(0)

elif command == "get":
    name = positional(2)
    with Locked() as releases:
        release = releases.get(f"{namespace}/{name}")
    if release is None:
        missing("get_missing", name)
    print(json.dumps(release["revisions"][-1]["values"] or None))
    finish(0)

elif command == "history":
    name = positional(1)
    with Locked() as releases:
        release = releases.get(f"{namespace}/{name}")
    if release is None:
        missing("history_missing", name)
    count = int(option("--max") or 256)
    rows = []
    for revision in release["revisions"][-count:]:
        row = {"revision": revision["revision"], "updated": revision["updated"],
               "status": revision["status"], "chart": chart_of(revision),
               "app_version": revision["app_version"], "description": revision["description"]}
        rows.append({field: row[field] for field in said["history_fields"]})
    print(json.dumps(rows))
    finish(0)

elif command == "list":
    flags = {"--deployed": {"deployed"}, "--failed": {"failed"}, "--superseded": {"superseded"},
             "--pending": {"pending-install", "pending-upgrade", "pending-rollback"},
             "--uninstalling": {"uninstalling"}, "--uninstalled": {"uninstalled"}}
    wanted = set().union(*[states for flag, states in flags.items() if flag in argv])
    pattern = option("--filter")
    found = []
    with Locked() as releases:
        for release in releases.values():
            last = release["revisions"][-1]
            if release["namespace"] != namespace:
                continue
            if wanted and last["status"] not in wanted:
                continue  # helm 4 lists every state when no state flag is given
            if pattern and not re.search(pattern, release["name"]):
                continue
            row = {"name": release["name"], "namespace": release["namespace"],
                   "revision": str(last["revision"]),
                   "updated": last["updated"].replace("T", " ").replace("Z", " +0000 UTC"),
                   "status": last["status"], "chart": chart_of(last),
                   "app_version": last["app_version"]}
            found.append({field: row[field] for field in said["list_fields"]})
    print(json.dumps(found))
    finish(0)

elif command == "uninstall":
    name = positional(1)
    with Locked() as releases:
        release = releases.pop(f"{namespace}/{name}", None)
    if release is None:
        missing("uninstall_missing", name)
    say(said["uninstall"], name=name)
    finish(0)

elif command == "show" and positional(1) == "crds":
    chart, version = positional(2), option("--version") or ""
    crds = home / "crds" / f"{chart}-{version.lstrip('v')}.yaml"
    if not crds.exists():
        entry = said["show_crds_missing_version"]
        say(entry, chart=chart, version=version, repo=option("--repo"))
        finish(entry["exit"])
    # As helm prints them: each CRD file after a "---" line (pkg/cmd/show.go).
    sys.stdout.write(crds.read_text())
    finish(0)

else:
    sys.stderr.write(f"fake helm: command {command!r} not emulated\n")
    finish(64)
"""


@dataclass
class FakeHelm:
    """The installed fake: its path, what it was asked, and the knobs for its behaviour."""

    home: Path

    @property
    def binary(self) -> Path:
        return self.home / "helm"

    def calls(self) -> list[dict[str, Any]]:
        log = self.home / "calls.jsonl"
        if not log.exists():
            return []
        entries = [json.loads(line) for line in log.read_text().splitlines() if line]
        return [entry for entry in entries if "signal" not in entry]

    def signals(self) -> list[str]:
        """Signals the fake received during operations (SIGKILL cannot be seen, of course)."""
        log = self.home / "calls.jsonl"
        if not log.exists():
            return []
        entries = [json.loads(line) for line in log.read_text().splitlines() if line]
        return [entry["signal"] for entry in entries if "signal" in entry]

    def commands(self) -> list[str]:
        return [call["argv"][0] for call in self.calls()]

    def upgrades(self) -> list[dict[str, Any]]:
        return [call for call in self.calls() if call["argv"][0] == "upgrade"]

    def rollbacks(self) -> list[dict[str, Any]]:
        return [call for call in self.calls() if call["argv"][0] == "rollback"]

    def separate(self, kubeconfig: Path, cluster: str) -> None:
        """Give the cluster behind `kubeconfig` release records of its own (`releases(cluster)`)."""
        path = self.home / "clusters.json"
        mapping = json.loads(path.read_text()) if path.exists() else {}
        mapping[str(kubeconfig)] = f"releases-{cluster}.json"
        path.write_text(json.dumps(mapping))

    def _state(self, cluster: str | None = None) -> dict[str, Any]:
        state = self.home / (f"releases-{cluster}.json" if cluster else "releases.json")
        return json.loads(state.read_text()) if state.exists() else {}

    def _save(self, state: dict[str, Any]) -> None:
        (self.home / "releases.json").write_text(json.dumps(state))

    def releases(self, cluster: str | None = None) -> dict[str, Any]:
        """Each release as its last revision: name, namespace, chart, version, revision,
        values, status (of a cluster given its own records by `separate`)."""
        found = {}
        for key, release in self._state(cluster).items():
            last = release["revisions"][-1]
            found[key] = {
                "name": release["name"],
                "namespace": release["namespace"],
                "chart": last["chart"],
                "version": last["version"],
                "revision": last["revision"],
                "values": last["values"],
                "status": last["status"],
            }
        return found

    def history(self, release: str, namespace: str) -> list[dict[str, Any]]:
        revisions: list[dict[str, Any]] = self._state()[f"{namespace}/{release}"]["revisions"]
        return revisions

    def leave(
        self,
        release: str,
        namespace: str,
        statuses: list[str],
        *,
        chart: str,
        version: str,
        values: dict[str, Any] | None = None,
        updated: str = "2026-01-01T00:00:00.000000Z",
    ) -> None:
        """A release as earlier runs left it, one revision per status (oldest first)."""
        state = self._state()
        descriptions = {
            "deployed": "Upgrade complete",
            "superseded": "Upgrade complete",
            "failed": "Upgrade failed",
            "pending-install": "Initial install underway",
            "pending-upgrade": "Preparing upgrade",
            "pending-rollback": "Rollback to 1",
        }
        state[f"{namespace}/{release}"] = {
            "name": release,
            "namespace": namespace,
            "revisions": [
                {
                    "revision": number,
                    "status": status,
                    "chart": chart,
                    "version": version,
                    "app_version": "1.0",
                    "values": values or {},
                    "updated": updated,
                    "description": descriptions.get(status, status),
                }
                for number, status in enumerate(statuses, start=1)
            ],
        }
        self._save(state)

    def set_status(self, release: str, namespace: str, status: str) -> None:
        """Give the last revision another state, as an interrupted or failed run would."""
        state = self._state()
        state[f"{namespace}/{release}"]["revisions"][-1]["status"] = status
        self._save(state)

    def take(
        self, release: str, *, hooks: float = 0.0, wait: float = 0.0, scale: float = 1.0
    ) -> None:
        """Seconds the hooks and the wait for resources take (in helm's time; the fake
        sleeps `scale` times as long), each compared with --timeout on its own."""
        plan = {"hooks": hooks, "wait": wait, "scale": scale}
        (self.home / f"take-{release}.json").write_text(json.dumps(plan))

    def hang(self, release: str) -> None:
        """The operation never finishes by itself (a wait on pods that never come)."""
        (self.home / f"take-{release}.json").write_text(json.dumps({"hang": True}))

    def conflict(
        self,
        release: str,
        *,
        kind: str,
        name: str,
        namespace: str,
        owner: str,
        owner_namespace: str,
    ) -> None:
        """An object of the chart already belongs to another release."""
        taken = {
            "kind": kind,
            "object": name,
            "object_namespace": namespace,
            "owner": owner,
            "owner_namespace": owner_namespace,
        }
        (self.home / f"conflict-{release}.json").write_text(json.dumps(taken))

    def chart_crds(self, chart: str, version: str, text: str) -> None:
        folder = self.home / "crds"
        folder.mkdir(exist_ok=True)
        (folder / f"{chart}-{version.lstrip('v')}.yaml").write_text(text)

    def fail(self, command: str, stderr: str) -> None:
        (self.home / f"fail-{command}").write_text(stderr)

    def timings(self) -> list[dict[str, Any]]:
        """Start and end (wall clock) of each call, to show which calls overlapped."""
        log = self.home / "timings.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines() if line]

    def slow(self, command: str, seconds: float) -> None:
        (self.home / f"delay-{command}").write_text(str(seconds))

    def fail_release(self, release: str, stderr: str) -> None:
        """Only `upgrade` of this release fails (the others succeed)."""
        (self.home / f"fail-upgrade-{release}").write_text(stderr)

    def heal(self, command: str) -> None:
        (self.home / f"fail-{command}").unlink(missing_ok=True)

    def report_version(self, text: str) -> None:
        (self.home / "version.txt").write_text(text)


def install(directory: Path) -> FakeHelm:
    directory.mkdir(parents=True, exist_ok=True)
    binary = directory / "helm"
    binary.write_text(f"#!{sys.executable}\n{SCRIPT}")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    shutil.copy(RECORDED, directory / RECORDED.name)
    return FakeHelm(directory)


def on_path(fake: FakeHelm) -> dict[str, str]:
    """Environment changes that make `helm` resolve to the fake (first on PATH)."""
    return {"PATH": f"{fake.home}{os.pathsep}{os.environ.get('PATH', '')}", "JHUB_HELM": ""}


@pytest.fixture
def fake_helm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHelm:
    """The recording helm on JHUB_HELM: a real install needs an API server with OpenAPI
    documents and the chart repository, neither of which exists in the tests."""
    fake = install(tmp_path / "fake-helm")
    monkeypatch.setenv("JHUB_HELM", str(fake.binary))
    return fake
