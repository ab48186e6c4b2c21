"""A recording, stateful stand-in for the `helm` executable.

`install(directory)` writes an executable `helm` there (a copy of this file's SCRIPT run
by the current Python). Each call appends one JSON line to `calls.jsonl`: the argv, and for
`--values FILE` the file's mode and content *as helm saw them*, so tests can prove the
values never reached argv and that the file was private and gone afterwards.

It keeps releases in `releases.json`, so `get values` answers with what the last
`upgrade --install` received, like a real release would. Faults: a file `fail-<command>`
makes that command print the file's text to stderr and exit 1; `version.txt` sets the
`version --short` output.

A real `helm install` cannot run against the Kubernetes emulator (no OpenAPI document),
which is why command construction and release state are tested through this recorder,
and `helm template` and the read commands with the real binary.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SCRIPT = r"""
import fcntl, json, os, stat, sys, time
from pathlib import Path
import yaml

home = Path(os.environ.get("FAKE_HELM_HOME") or Path(__file__).parent)
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
with open(home / "calls.jsonl", "a") as log:
    log.write(json.dumps(record) + "\n")

# Parallel releases call helm at once: one call at a time keeps releases.json whole.
lock = open(home / "helm.lock", "w")

started = time.time()
delay = home / f"delay-{command}"
if delay.exists():
    # Stands in for the minutes a real install waits on pods.
    time.sleep(float(delay.read_text()))
fcntl.flock(lock, fcntl.LOCK_EX)
with open(home / "timings.jsonl", "a") as timings:
    timings.write(json.dumps({"argv": argv, "started": started, "ended": time.time()}) + "\n")

fault = home / f"fail-{command}"
if fault.exists():
    sys.stderr.write(fault.read_text())
    sys.exit(1)

state_path = home / "releases.json"
releases = json.loads(state_path.read_text()) if state_path.exists() else {}
namespace = option("--namespace") or option("-n") or "default"

TAKES_VALUE = {"--namespace", "-n", "--repo", "--version", "--values", "-f", "--timeout",
               "--kubeconfig", "-o", "--output", "--filter"}

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

if command == "version":
    version = home / "version.txt"
    print(version.read_text().strip() if version.exists() else "v3.14.2+gc309b6f")
elif command == "upgrade":
    name, chart = positional(1), positional(2)
    release_fault = home / f"fail-upgrade-{name}"
    if release_fault.exists():
        sys.stderr.write(release_fault.read_text())
        sys.exit(1)
    key = f"{namespace}/{name}"
    old = releases.get(key, {})
    releases[key] = {
        "name": name, "namespace": namespace, "chart": chart,
        "version": option("--version") or "", "revision": old.get("revision", 0) + 1,
        "values": values or {}, "status": "deployed",
    }
    state_path.write_text(json.dumps(releases))
    print(f'Release "{name}" has been upgraded. Happy Helming!')
elif command == "get":
    name = positional(2)
    release = releases.get(f"{namespace}/{name}")
    if release is None:
        sys.stderr.write("Error: release: not found\n")
        sys.exit(1)
    print(json.dumps(release["values"] or None))
elif command == "list":
    found = [
        {"name": r["name"], "namespace": r["namespace"], "revision": str(r["revision"]),
         "status": r["status"], "chart": f'{r["chart"].rsplit("/", 1)[-1]}-{r["version"]}',
         "app_version": "5.5.0", "updated": "2026-01-01 00:00:00 +0000 UTC"}
        for r in releases.values() if r["namespace"] == namespace
    ]
    print(json.dumps(found))
elif command == "uninstall":
    name = positional(1)
    if releases.pop(f"{namespace}/{name}", None) is None:
        sys.stderr.write(f"Error: uninstall: Release not loaded: {name}: release: not found\n")
        sys.exit(1)
    state_path.write_text(json.dumps(releases))
    print(f'release "{name}" uninstalled')
else:
    sys.stderr.write(f"fake helm: command {command!r} not emulated\n")
    sys.exit(64)
"""


@dataclass
class FakeHelm:
    """The installed fake: its path, and what it was asked."""

    home: Path

    @property
    def binary(self) -> Path:
        return self.home / "helm"

    def calls(self) -> list[dict[str, Any]]:
        log = self.home / "calls.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines() if line]

    def commands(self) -> list[str]:
        return [call["argv"][0] for call in self.calls()]

    def upgrades(self) -> list[dict[str, Any]]:
        return [call for call in self.calls() if call["argv"][0] == "upgrade"]

    def releases(self) -> dict[str, Any]:
        state = self.home / "releases.json"
        return json.loads(state.read_text()) if state.exists() else {}

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
