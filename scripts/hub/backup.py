"""hub.backup and hub.restore: the hub's state in one file, and back.

What a user loses when the hub is re-created: the database (users, admin flags, groups,
named servers, tokens; with native sign-in also accounts and passwords), the cookie
secret and auth-state keys their sessions and stored credentials are encrypted with, and
the Let's Encrypt certificate. z2jh 4.4.0 keeps the database as sqlite on the
`hub-db-dir` claim mounted at /srv/jupyterhub when hub.db.type is `sqlite-pvc`, its
default (templates/hub/pvc.yaml, deployment.yaml, files/hub/jupyterhub_config.py
`sqlite:///jupyterhub.sqlite` in that working directory); with mysql or postgres the
database is outside the cluster and the operator's to back up. The chart generates
three values into the `hub` Secret and keeps them across upgrades by looking them up
there (templates/hub/secret.yaml, templates/hub/_helpers-passwords.tpl: chart value,
else the Secret's value, else a new random one), so writing them back into that Secret
makes every later `helm upgrade` keep them.

The database is read and written through the Kubernetes API only: an exec into the
running hub container (it has python3 with sqlite3; images/hub/Dockerfile is
python:3.12), using sqlite's online backup API, which copies a consistent snapshot
while the hub keeps writing. A restore overwrites the database the same way, then
deletes the hub pod so its Deployment starts a hub that reads the restored state.

The file is JSON, mode 0600 (it holds secrets and password hashes), with a SHA-256 over
its content; see `checksum`.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import helm, known_objects, kube, paths, pod_exec
from ..core.changes import Changes
from ..core.console import Console
from ..core.errors import BadInput, OperationFailed, Problem
from ..core.loading import Environment
from ..core.private_files import write_private
from ..core.prompts import Ask, confirm_deletion
from .tls import backup as tls_backup

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

FORMAT = "jhub-hub-backup/1"
HUB_CONTAINER = "hub"  # z2jh templates/hub/deployment.yaml containers[0].name
HUB_SECRET = "hub"  # z2jh _helpers-names.tpl jupyterhub.hub.fullname (fullnameOverride "")
DB_PATH = "/srv/jupyterhub/jupyterhub.sqlite"
# The chart-generated keys of the `hub` Secret (templates/hub/secret.yaml).
SESSION_KEYS = (
    "hub.config.JupyterHub.cookie_secret",
    "hub.config.CryptKeeper.keys",
    "hub.config.ConfigurableHTTPProxy.auth_token",
)
# The proxy reads its auth token from the same Secret (templates/proxy/deployment.yaml
# CONFIGPROXY_AUTH_TOKEN), so a changed token restarts the proxy as well.
PROXY_KEY = "hub.config.ConfigurableHTTPProxy.auth_token"
EXTERNAL_NOTE = (
    "hub.db.type is {type}: the database is outside the cluster; back it up with its own "
    "tools (this file has the session secrets and the certificate only)"
)

# Run in the hub container. Prints one JSON line: the JupyterHub version, and with a path,
# the database as base64 (an online backup into memory, so a writing hub is no problem).
READ_SCRIPT = """
import base64, json, os, sqlite3, sys
try:
    import jupyterhub
    version = jupyterhub.__version__
except Exception:
    version = ""
out = {"jupyterhub": version}
if len(sys.argv) > 1:
    path = sys.argv[1]
    out["exists"] = os.path.exists(path)
    if out["exists"]:
        source = sqlite3.connect("file:" + path + "?mode=ro", uri=True)
        memory = sqlite3.connect(":memory:")
        source.backup(memory)
        out["sqlite"] = base64.b64encode(memory.serialize()).decode()
sys.stdout.write(json.dumps(out))
"""

# Run in the hub container: stdin is a length line, then that much base64 (exec's v4
# protocol cannot close stdin). Checked before anything is written.
WRITE_SCRIPT = """
import base64, sqlite3, sys
length = int(sys.stdin.readline())
data = base64.b64decode(sys.stdin.read(length))
memory = sqlite3.connect(":memory:")
memory.deserialize(data)
if memory.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
    sys.exit("the backup's database fails sqlite's integrity check; nothing was written")
target = sqlite3.connect(sys.argv[1])
memory.backup(target)
target.close()
sys.stdout.write("restored")
"""


@dataclass(frozen=True)
class HubPod:
    name: str
    namespace: str


# ------------------------------------------------------------------ the file


def checksum(document: dict[str, Any]) -> str:
    """sha256 of the document without its `checksum` key, as sorted, compact JSON."""
    body = {k: v for k, v in document.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def read_file(path: Path) -> dict[str, Any]:
    """The verified document; BadInput naming --from for anything else."""
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) else "is not a hub backup (JSON)"
        raise BadInput(Problem("--from", f"{path}: {reason}")) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BadInput(
            Problem("--from", f"{path} is not a backup written by hub.backup ({FORMAT})")
        )
    if document.get("checksum") != checksum(document):
        raise BadInput(
            Problem(
                "--from",
                f"{path}: the checksum does not match the content (changed or truncated "
                "since hub.backup wrote it); use another backup",
            )
        )
    return document


def default_path(environment: Environment, now: datetime.datetime | None = None) -> Path:
    moment = now or datetime.datetime.now(tz=datetime.UTC)
    return paths.hub_backup_dir(environment.name) / f"hub-{moment:%Y%m%dT%H%M%SZ}.json"


# ------------------------------------------------------------------ backup


def backup(environment: Environment, ui: Console, *, to: Path | None = None) -> Path:
    """Write the hub's state to `to` (default: config/<env>.backups/hub-<time>.json)."""
    hub = environment.settings.hub
    api = kube.api_client(environment.kubeconfig)
    client = helm.Helm(kubeconfig=environment.kubeconfig)
    target = to or default_path(environment)

    with ui.step(f"release {hub.release}") as step:
        status = client.status(hub.release, hub.namespace)
        if status is None:
            raise OperationFailed(
                f"release {hub.release} is not installed in namespace {hub.namespace}: "
                "there is no hub state to back up",
                f"install it with `invoke hub.deploy --env {environment.name}`",
            )
        values = client.get_values(hub.release, hub.namespace) or {}
        db_type = database_type(values)
        step.done(f"chart {status.chart}, database {db_type}")

    document: dict[str, Any] = {
        "format": FORMAT,
        "created": datetime.datetime.now(tz=datetime.UTC).isoformat(timespec="seconds"),
        "environment": environment.name,
        "cluster": environment.settings.cluster.name,
        "release": hub.release,
        "namespace": hub.namespace,
        "chart": {"name": hub.chart.name, "version": status.chart_version},
    }
    with ui.step("hub database") as step:
        pod = find_hub_pod(api, hub.namespace, hub.release)
        read = _read(api, pod, with_database=db_type == "sqlite-pvc")
        document["jupyterhub_version"] = read["jupyterhub"] or status.app_version
        if db_type != "sqlite-pvc":
            note = EXTERNAL_NOTE.format(type=db_type)
            document["database"] = {"type": db_type, "note": note}
            step.skipped(note)
        elif not read.get("exists"):
            raise OperationFailed(
                f"pod {pod.namespace}/{pod.name} has no {DB_PATH}",
                "check that hub.db.type is sqlite-pvc and the hub has started once, then re-run",
            )
        else:
            data = str(read["sqlite"])
            document["database"] = {"type": db_type, "path": DB_PATH, "sqlite_base64": data}
            size = len(base64.b64decode(data))
            step.done(f"{size} bytes from pod {pod.name} (JupyterHub {read['jupyterhub']})")

    with ui.step(f"session secrets (Secret {hub.namespace}/{HUB_SECRET})") as step:
        live = kube.read_secret_manifest(api, hub.namespace, HUB_SECRET) or {}
        stored: dict[str, str] = live.get("data") or {}
        kept = {key: stored[key] for key in SESSION_KEYS if key in stored}
        ui.add_secrets([base64.b64decode(v).decode("utf-8", "replace") for v in kept.values()])
        document["secrets"] = kept
        if kept:
            step.done(", ".join(sorted(kept)))
        else:
            step.skipped("the Secret has none of them")

    with ui.step("Let's Encrypt certificate") as step:
        certificate = tls_backup.portable_secret(api, hub.namespace)
        document["tls"] = certificate
        if certificate is None:
            step.skipped("no certificate secret in the cluster")
        else:
            step.done(f"Secret {tls_backup.ACME_SECRET}")

    document["checksum"] = checksum(document)
    with ui.step("write the backup") as step:
        write_private(target, json.dumps(document, indent=1, sort_keys=True) + "\n")
        step.done(f"{target} (mode 0600)")
    return target


def database_type(values: dict[str, Any]) -> str:
    """hub.db.type of the release's values; z2jh's default is sqlite-pvc (values.yaml)."""
    hub = values.get("hub") if isinstance(values.get("hub"), dict) else {}
    db = hub.get("db") if isinstance(hub, dict) and isinstance(hub.get("db"), dict) else {}
    return str(db.get("type") or "sqlite-pvc") if isinstance(db, dict) else "sqlite-pvc"


def find_hub_pod(api: ApiClient, namespace: str, release: str) -> HubPod:
    """The running hub pod; one, since the chart's Deployment has replicas 1 (Recreate)."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    selector = known_objects.z2jh_pods("hub", release)
    pods = kube.call(
        f"list pods {selector} in {namespace}",
        lambda: core.list_namespaced_pod(namespace, label_selector=selector),
    )
    running = [
        p.metadata.name
        for p in pods.items
        if p.metadata.deletion_timestamp is None and p.status and p.status.phase == "Running"
    ]
    if not running:
        raise OperationFailed(
            f"no running hub pod ({selector}) in namespace {namespace}",
            "the hub must run to read or write its database; check `invoke hub.status`, "
            "then re-run",
        )
    return HubPod(sorted(running)[0], namespace)


def _read(api: ApiClient, pod: HubPod, *, with_database: bool) -> dict[str, Any]:
    command = ["python3", "-c", READ_SCRIPT]
    if with_database:
        command.append(DB_PATH)
    result = pod_exec.run(api, pod.namespace, pod.name, command, container=HUB_CONTAINER)
    try:
        parsed = json.loads(result.stdout) if result.returncode == 0 else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise OperationFailed(
            f"reading the hub state in pod {pod.namespace}/{pod.name} failed "
            f"(exit {result.returncode}): {result.stderr.strip()[-300:] or 'no output'}",
            "check the hub pod's logs (`invoke hub.status`), then re-run",
        )
    return parsed


# ------------------------------------------------------------------ restore


def version_key(version: str) -> tuple[int, ...]:
    """Release numbers compared numerically; a pre-release sorts before its release."""
    from packaging.version import InvalidVersion, Version

    try:
        parsed = Version(version)
    except InvalidVersion:
        return ()
    return (*parsed.release, 0 if parsed.pre else 1)


def restore(
    environment: Environment,
    ui: Console,
    *,
    source: Path,
    yes: bool,
    dry_run: bool,
    ask: Ask | None = None,
) -> bool:
    """Put a backup's state into the deployed hub; True when something was (or would be) written."""
    document = read_file(source)
    saved: dict[str, str] = dict(document.get("secrets") or {})
    ui.add_secrets([base64.b64decode(v).decode("utf-8", "replace") for v in saved.values()])
    hub = environment.settings.hub
    api = kube.api_client(environment.kubeconfig)
    changes = Changes(ui, dry_run=dry_run)
    database = document.get("database") or {}
    ui.print(
        f"Backup of {document.get('environment')}/{document.get('cluster')} from "
        f"{document.get('created')}: chart {document.get('chart', {}).get('version')}, "
        f"JupyterHub {document.get('jupyterhub_version')}."
    )

    pod = find_hub_pod(api, hub.namespace, hub.release)
    with ui.step("deployed JupyterHub version") as step:
        deployed = str(_read(api, pod, with_database=False)["jupyterhub"])
        wanted = str(document.get("jupyterhub_version") or "")
        if not deployed or not version_key(deployed):
            raise OperationFailed(
                f"pod {pod.name}: cannot tell which JupyterHub it runs",
                "check the hub image (hub.chart), then re-run",
            )
        if version_key(wanted) > version_key(deployed):
            raise OperationFailed(
                f"the backup is from JupyterHub {wanted}, newer than the deployed {deployed}: "
                "an older hub cannot read a newer database schema",
                f"deploy a chart with JupyterHub {wanted} or newer (hub.chart.version), "
                "then restore",
            )
        step.done(f"{deployed} (backup: {wanted}); an older database is upgraded on start")

    restart_hub = restart_proxy = False
    if database.get("type") == "sqlite-pvc":
        what = (
            f"replace the hub database in {hub.namespace} (every user, group, token and "
            f"server record there now) with the backup from {document.get('created')}"
        )
        if not dry_run and not confirm_deletion(what, yes=yes, ask=ask):
            ui.print("Nothing was restored.")
            return False
        with ui.step("hub database") as step:
            data = str(database["sqlite_base64"])
            payload = f"{len(data)}\n{data}"
            changes.make(
                f"write {DB_PATH} in pod {pod.name} from the backup",
                lambda: _write(api, pod, payload),
            )
            restart_hub = True
            step.done(f"{len(base64.b64decode(data))} bytes")
    else:
        ui.warn(str(database.get("note") or "the backup has no database"))

    with ui.step(f"session secrets (Secret {hub.namespace}/{HUB_SECRET})") as step:
        live = (kube.read_secret_manifest(api, hub.namespace, HUB_SECRET) or {}).get("data") or {}
        differing = {k: v for k, v in saved.items() if live.get(k) != v}
        if not saved:
            step.skipped("none in the backup")
        elif not differing:
            step.unchanged("the same as in the backup")
        else:
            changes.make(
                f"set {', '.join(sorted(differing))} in Secret {hub.namespace}/{HUB_SECRET}",
                lambda: _patch_secret(api, hub.namespace, differing),
            )
            restart_hub = True
            restart_proxy = PROXY_KEY in differing
            step.done(", ".join(sorted(differing)))

    with ui.step("Let's Encrypt certificate") as step:
        certificate = document.get("tls")
        if not certificate:
            step.skipped("none in the backup")
        elif tls_backup.restore_manifest(api, hub.namespace, certificate, changes) == "present":
            step.unchanged("the cluster has a certificate; kept")
        else:
            step.done(f"Secret {tls_backup.ACME_SECRET}")

    with ui.step("restart to read the restored state") as step:
        restarted = []
        if restart_hub:
            changes.make(
                f"delete pod {pod.name} (its Deployment starts a new hub)",
                lambda: _delete_pod(api, pod),
            )
            restarted.append(pod.name)
        if restart_proxy:
            for proxy in _pods(api, hub.namespace, known_objects.z2jh_pods("proxy", hub.release)):
                target = HubPod(proxy, hub.namespace)
                changes.make(
                    f"delete pod {proxy} (the proxy reads the restored token)",
                    functools.partial(_delete_pod, api, target),
                )
                restarted.append(proxy)
        if restarted:
            step.done(", ".join(restarted))
        else:
            step.unchanged("nothing restored")
    ui.summary(
        [f"check the hub with `invoke hub.health --env {environment.name}`"]
        if restarted and not dry_run
        else []
    )
    return bool(restarted)


def _write(api: ApiClient, pod: HubPod, payload: str) -> None:
    result = pod_exec.run(
        api,
        pod.namespace,
        pod.name,
        ["python3", "-c", WRITE_SCRIPT, DB_PATH],
        container=HUB_CONTAINER,
        stdin=payload,
    )
    if result.returncode != 0 or result.stdout.strip() != "restored":
        raise OperationFailed(
            f"writing the hub database in pod {pod.namespace}/{pod.name} failed "
            f"(exit {result.returncode}): {result.stderr.strip()[-300:] or 'no output'}",
            "the database is unchanged unless the message says otherwise; fix the cause and "
            "re-run hub.restore",
        )


def _patch_secret(api: ApiClient, namespace: str, data: dict[str, str]) -> None:
    from kubernetes import client

    core = client.CoreV1Api(api)
    kube.call(
        f"patch Secret {namespace}/{HUB_SECRET}",
        lambda: core.patch_namespaced_secret(HUB_SECRET, namespace, {"data": data}),
    )


def _pods(api: ApiClient, namespace: str, selector: str) -> list[str]:
    from kubernetes import client

    core = client.CoreV1Api(api)
    pods = kube.call(
        f"list pods {selector} in {namespace}",
        lambda: core.list_namespaced_pod(namespace, label_selector=selector),
    )
    return sorted(p.metadata.name for p in pods.items if p.metadata.deletion_timestamp is None)


def _delete_pod(api: ApiClient, pod: HubPod) -> None:
    from kubernetes import client

    core = client.CoreV1Api(api)
    kube.read_or_none(
        f"delete pod {pod.namespace}/{pod.name}",
        lambda: core.delete_namespaced_pod(pod.name, pod.namespace),
    )
