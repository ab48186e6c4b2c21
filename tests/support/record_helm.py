"""Record what the real helm prints, so the recording helm (fake_helm.py) can say the same.

Runs the helm binary on PATH (or $JHUB_HELM) against the Kubernetes emulator
(tests/support/fakekube.py), which keeps helm's release Secrets like a real cluster, with
two tiny charts written to a temporary folder: each outcome the project's code meets is
produced for real (an install, an upgrade, a wait that times out, helm stopped with
SIGTERM and with SIGKILL, the pending release that a killed helm leaves, a rollback, an
uninstall, an ownership conflict, missing releases) and its output, exit code and the
revision it leaves are written down as templates with ``{name}``-style placeholders.

    python -m tests.support.record_helm        # rewrites tests/support/helm4_recorded.json

The emulator serves no OpenAPI document, hence ``--disable-openapi-validation`` on
installs here; it does not change any message recorded. tests/test_fake_helm.py re-runs
the recording and compares it with the committed file, so a helm that words things
differently shows up as a failing test.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).with_name("helm4_recorded.json")
NAMESPACE = "rec-ns"
# Long enough for helm to have written its pending revision and started waiting.
SIGNAL_AFTER_SECONDS = 2.0
WAIT_TIMEOUT = "2s"

CHART_YAML = "apiVersion: v2\nname: {name}\nversion: 0.1.0\nappVersion: '1.0'\n"
CONFIG_MAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  greeting: {{ .Values.greeting | quote }}
"""
EXTRA_CONFIG_MAP = """{{- if .Values.extra }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: shared-settings
data: {}
{{- end }}
"""
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "registry.invalid/web:1"}]}
"""


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def _chart(folder: Path, name: str, templates: dict[str, str]) -> Path:
    chart = folder / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(CHART_YAML.format(name=name))
    (chart / "values.yaml").write_text("greeting: hello\nextra: false\n")
    for file, text in templates.items():
        (chart / "templates" / file).write_text(text)
    return chart


class Recorder:
    def __init__(self, helm: str, kubeconfig: Path) -> None:
        self.helm = helm
        self.kubeconfig = kubeconfig

    def run(self, *args: str, stop: signal.Signals | None = None, timeout: float = 120) -> Outcome:
        argv = [self.helm, *args, "--kubeconfig", str(self.kubeconfig)]
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "HELM_CACHE_HOME": str(self.kubeconfig.parent / "cache")},
        )
        if stop is not None:
            time.sleep(SIGNAL_AFTER_SECONDS)
            process.send_signal(stop)
        out, err = process.communicate(timeout=timeout)
        return Outcome(process.returncode, out, err)

    def install(
        self, name: str, chart: Path, *extra: str, stop: signal.Signals | None = None
    ) -> Outcome:
        return self.run(
            "upgrade",
            "--install",
            name,
            str(chart),
            "--namespace",
            NAMESPACE,
            "--disable-openapi-validation",
            *extra,
            stop=stop,
        )

    def history(self, name: str) -> list[dict[str, Any]]:
        outcome = self.run("history", name, "--namespace", NAMESPACE, "-o", "json")
        if outcome.code != 0:
            raise RuntimeError(f"helm history {name}: {outcome.stderr}")
        entries: list[dict[str, Any]] = json.loads(outcome.stdout)
        return entries


def _template(text: str, names: dict[str, str]) -> str:
    """Concrete output as a template: the values named here become {placeholders}."""
    text = re.sub(r"LAST DEPLOYED: .*", "LAST DEPLOYED: {deployed}", text)
    # helm's structured log lines carry no time stamp, only level and message.
    for value, placeholder in sorted(names.items(), key=lambda item: -len(item[0])):
        text = text.replace(value, "{" + placeholder + "}")
    return text


def _entry(outcome: Outcome, names: dict[str, str], **more: Any) -> dict[str, Any]:
    outcome = _clean(outcome)
    return {
        "exit": outcome.code,
        "stdout": _template(outcome.stdout, names),
        "stderr": _template(outcome.stderr, names),
        **more,
    }


def _without_warnings(text: str) -> str:
    # client-go's reflector complains about kmock's watch content type while helm waits;
    # that is the emulator's, not helm's, and not recorded.
    return "".join(
        line for line in text.splitlines(keepends=True) if "ListAndWatch error" not in line
    )


def _clean(outcome: Outcome) -> Outcome:
    return Outcome(outcome.code, outcome.stdout, _without_warnings(outcome.stderr))


def _ready(generation: int) -> dict[str, Any]:
    """A Deployment's status once its pods are up (what the controller would write)."""
    return {
        "observedGeneration": generation,
        "replicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
        "updatedReplicas": 1,
        "conditions": [
            {"type": "Available", "status": "True"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
        ],
    }


CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.org
spec:
  group: example.org
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true}]
"""


@contextlib.contextmanager
def _chart_repository(work: Path, rec: Recorder) -> Iterator[str]:
    """A chart with a crds/ folder, packaged and indexed, served on loopback."""
    import functools
    import http.server
    import threading

    chart = _chart(work, "crdchart", {"settings.yaml": CONFIG_MAP})
    (chart / "crds").mkdir()
    (chart / "crds" / "widgets.yaml").write_text(CRD)
    served = work / "repository"
    served.mkdir()
    assert rec.run("package", str(chart), "--destination", str(served)).code == 0

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    assert rec.run("repo", "index", str(served), "--url", url).code == 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def _deployments_become_ready(kube: Any) -> Iterator[None]:
    """A stand-in Deployment controller: every Deployment in the namespace is reported
    ready for its current generation, as the real one does once its pods run."""
    import threading

    stop = threading.Event()

    def run() -> None:
        while not stop.wait(0.1):
            for web in kube.objects("apps/v1/deployments", NAMESPACE):
                generation = int(web["metadata"].get("generation") or 1)
                if (web.get("status") or {}).get("observedGeneration") != generation:
                    kube.patch(
                        "apps/v1/deployments",
                        web["metadata"]["name"],
                        {"status": _ready(generation)},
                        namespace=NAMESPACE,
                    )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def record(helm: str) -> dict[str, Any]:
    from tests.support.fakekube import FakeKube

    work = Path(tempfile.mkdtemp(prefix="record-helm-"))
    kube = FakeKube(work)
    try:
        kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        quick = _chart(work, "quick", {"settings.yaml": CONFIG_MAP, "extra.yaml": EXTRA_CONFIG_MAP})
        slow = _chart(work, "slow", {"settings.yaml": CONFIG_MAP, "web.yaml": DEPLOYMENT})
        rec = Recorder(helm, kube.kubeconfig_path)
        found: dict[str, Any] = {}
        names = {NAMESPACE: "namespace"}

        version = rec.run("version", "--short")
        found["version_short"] = version.stdout.strip()

        # install, upgrade, history, list, values
        install = rec.install("alpha", quick)
        found["install"] = _entry(install, {**names, "alpha": "name"})
        found["install"]["description"] = rec.history("alpha")[-1]["description"]
        upgrade = rec.install("alpha", quick, "--set", "greeting=hi")
        found["upgrade"] = _entry(upgrade, {**names, "alpha": "name"})
        entries = rec.history("alpha")
        found["upgrade"]["description"] = entries[-1]["description"]
        found["history_fields"] = list(entries[0])
        found["history_statuses"] = [entry["status"] for entry in entries]
        found["history_chart"] = entries[0]["chart"].replace("quick", "{chart}")
        listing = rec.run("list", "--namespace", NAMESPACE, "-o", "json")
        found["list_fields"] = list(json.loads(listing.stdout)[0])
        found["list_revision_type"] = type(json.loads(listing.stdout)[0]["revision"]).__name__
        values = rec.run("get", "values", "alpha", "--namespace", NAMESPACE, "-o", "json")
        found["get_values"] = json.loads(values.stdout)
        bare = rec.install("bare", quick)
        assert bare.code == 0, bare.stderr
        none = rec.run("get", "values", "bare", "--namespace", NAMESPACE, "-o", "json")
        found["get_values_without_values"] = none.stdout.strip()

        # a wait that runs out: the Deployment never becomes ready in the emulator
        rec.install("slowpoke", slow, "--set", "greeting=one")
        timed = _clean(
            rec.install(
                "slowpoke", slow, "--set", "greeting=two", "--wait", "--timeout", WAIT_TIMEOUT
            )
        )
        who = {**names, "slowpoke": "name", "Deployment/rec-ns/slowpoke-web": "resource"}
        found["upgrade_timeout"] = _entry(timed, who)
        found["upgrade_timeout"]["status"] = rec.history("slowpoke")[-1]["status"]
        found["upgrade_timeout"]["description"] = _template(
            rec.history("slowpoke")[-1]["description"], who
        )
        first = _clean(rec.install("newcomer", slow, "--wait", "--timeout", WAIT_TIMEOUT))
        who = {**names, "newcomer": "name", "Deployment/rec-ns/newcomer-web": "resource"}
        found["install_timeout"] = _entry(first, who)
        last = rec.history("newcomer")[-1]
        found["install_timeout"]["status"] = last["status"]
        found["install_timeout"]["description"] = _template(last["description"], who)

        # stopped with SIGTERM while waiting: helm cancels and records the failure
        rec.install("patient", slow)
        term = _clean(
            rec.install(
                "patient",
                slow,
                "--set",
                "greeting=x",
                "--wait",
                "--timeout",
                "60s",
                stop=signal.SIGTERM,
            )
        )
        who = {**names, "patient": "name"}
        found["upgrade_sigterm"] = _entry(term, who)
        last = rec.history("patient")[-1]
        found["upgrade_sigterm"]["status"] = last["status"]
        found["upgrade_sigterm"]["description"] = _template(last["description"], who)
        term_install = _clean(
            rec.install("hasty", slow, "--wait", "--timeout", "60s", stop=signal.SIGTERM)
        )
        who = {**names, "hasty": "name"}
        found["install_sigterm"] = _entry(term_install, who)
        last = rec.history("hasty")[-1]
        found["install_sigterm"]["status"] = last["status"]
        found["install_sigterm"]["description"] = _template(last["description"], who)

        # killed (SIGKILL) while waiting: the release stays pending, and helm refuses more
        rec.install("doomed", slow)
        rec.install(
            "doomed", slow, "--set", "greeting=y", "--wait", "--timeout", "60s", stop=signal.SIGKILL
        )
        last = rec.history("doomed")[-1]
        found["upgrade_sigkill"] = {"status": last["status"], "description": last["description"]}
        blocked = rec.install("doomed", slow, "--set", "greeting=z")
        found["pending"] = _entry(blocked, {**names, "doomed": "name"})
        rec.install("orphan", slow, "--wait", "--timeout", "60s", stop=signal.SIGKILL)
        last = rec.history("orphan")[-1]
        found["install_sigkill"] = {"status": last["status"], "description": last["description"]}

        # the remedies: rollback to the last deployed revision, uninstall a never-deployed one
        with _deployments_become_ready(kube):
            rolled = rec.run(
                "rollback", "doomed", "1", "--namespace", NAMESPACE, "--wait", "--timeout", "10s"
            )
        found["rollback"] = _entry(rolled, {**names, "doomed": "name"})
        entries = rec.history("doomed")
        found["rollback"]["description"] = entries[-1]["description"].replace(
            "Rollback to 1", "Rollback to {revision}"
        )
        found["rollback"]["statuses"] = [entry["status"] for entry in entries]
        missing_revision = rec.run("rollback", "doomed", "97", "--namespace", NAMESPACE)
        found["rollback_missing_revision"] = _entry(missing_revision, {**names, "97": "revision"})
        removed = rec.run(
            "uninstall", "orphan", "--namespace", NAMESPACE, "--wait", "--timeout", "10s"
        )
        found["uninstall"] = _entry(removed, {**names, "orphan": "name"})
        again = rec.run("uninstall", "orphan", "--namespace", NAMESPACE)
        found["uninstall_missing"] = _entry(again, {**names, "orphan": "name"})
        for command in (["get", "values"], ["history"], ["status"]):
            outcome = rec.run(*command, "ghost", "--namespace", NAMESPACE)
            found[f"{command[0]}_missing"] = _entry(outcome, {**names, "ghost": "name"})

        # ownership: an object of the chart already belongs to another release
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": "shared-settings",
                    "namespace": NAMESPACE,
                    "labels": {"app.kubernetes.io/managed-by": "Helm"},
                    "annotations": {
                        "meta.helm.sh/release-name": "owner",
                        "meta.helm.sh/release-namespace": "owner-ns",
                    },
                },
            }
        )
        who = {
            **names,
            "claimant": "name",
            "shared-settings": "object",
            '"owner-ns"': '"{owner_namespace}"',
            '"owner"': '"{owner}"',
            "ConfigMap": "kind",
        }
        taken = rec.install("claimant", quick, "--set", "extra=true")
        found["install_conflict"] = _entry(taken, who)
        found["install_conflict"]["release_created"] = (
            rec.run("history", "claimant", "--namespace", NAMESPACE).code == 0
        )
        rec.install("grower", quick)
        grown = rec.install("grower", quick, "--set", "extra=true")
        who = {**who, "grower": "name"}
        found["upgrade_conflict"] = _entry(grown, who)
        found["upgrade_conflict"]["status"] = rec.history("grower")[-1]["status"]

        # show crds from a chart repository (a local HTTP server with an index)
        with _chart_repository(work, rec) as repo:
            shown = rec.run("show", "crds", "crdchart", "--repo", repo, "--version", "0.1.0")
            found["show_crds"] = {"exit": shown.code, "stdout": shown.stdout}
            absent = rec.run("show", "crds", "crdchart", "--repo", repo, "--version", "9.9.9")
            found["show_crds_missing_version"] = _entry(
                absent, {repo: "repo", "crdchart": "chart", "9.9.9": "version"}
            )
        return _unquote(found)
    finally:
        kube.close()
        shutil.rmtree(work, ignore_errors=True)


def _unquote(found: dict[str, Any]) -> dict[str, Any]:
    # The ownership placeholders were substituted with their quotes; keep them readable.
    text = json.dumps(found).replace('{\\"{owner}\\"}', '\\"{owner}\\"')
    text = text.replace('{\\"{owner_namespace}\\"}', '\\"{owner_namespace}\\"')
    result: dict[str, Any] = json.loads(text)
    return result


def main(argv: Sequence[str] = ()) -> int:
    helm = os.environ.get("JHUB_HELM") or shutil.which("helm")
    if not helm:
        print("no helm on PATH (or JHUB_HELM)", file=sys.stderr)
        return 2
    found = record(helm)
    found = {"recorded_with": found["version_short"], **found}
    RECORDED.write_text(json.dumps(found, indent=2, sort_keys=False) + "\n")
    print(f"wrote {RECORDED}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
