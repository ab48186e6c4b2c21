"""Keep the Let's Encrypt certificate across an uninstall.

`helm uninstall` deletes the secret in which z2jh's autohttps pod keeps its
certificate, and Let's Encrypt issues only 5 certificates per set of names per
week. So hub.uninstall copies the secret to config/<env>.tls-backup.yaml (0600,
git-ignored) first, and hub.deploy puts it back before installing when the
cluster has none: the new autohttps pod then starts with the old certificate
(docs/hub.md, "Uninstalling and the Let's Encrypt renewal limit").
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from ...core import input_files, kube
from ...core.changes import Changes
from ...core.errors import BadInput, Problem
from ...core.private_files import write_private

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

ACME_SECRET = "proxy-public-tls-acme"


def portable_secret(api: ApiClient, namespace: str) -> dict[str, Any] | None:
    """The certificate secret without what the cluster assigned; None when there is none."""
    found = kube.read_secret_manifest(api, namespace, ACME_SECRET)
    return None if found is None else _portable(found)


def backup(api: ApiClient, namespace: str, path: Path, changes: Changes) -> bool:
    """Write the secret to path (0600); False when the cluster has no certificate yet."""
    portable = portable_secret(api, namespace)
    if portable is None:
        return False
    text = "# Let's Encrypt certificate of the hub: private key inside. Never commit.\n"
    text += yaml.safe_dump(portable, sort_keys=False)
    changes.make(f"back up Secret {namespace}/{ACME_SECRET} to {path}", lambda: _write(path, text))
    return True


def _write(path: Path, text: str) -> None:
    write_private(path, text)


def _portable(secret: dict[str, Any]) -> dict[str, Any]:
    """The secret without what the cluster assigned (uid, resourceVersion, owner)."""
    meta = secret.get("metadata", {})
    kept_meta: dict[str, Any] = {"name": meta["name"], "namespace": meta.get("namespace")}
    if meta.get("labels"):
        kept_meta["labels"] = dict(meta["labels"])
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": secret.get("type") or "Opaque",
        "metadata": kept_meta,
        "data": dict(secret.get("data") or {}),
    }


def read_backup(path: Path) -> dict[str, Any]:
    try:
        loaded = input_files.read_yaml(path)
    except BadInput as error:
        # One line per problem, never the backup's text (it holds the private key).
        raise BadInput(
            [
                Problem(
                    p.key,
                    f"certificate backup {p.message}; move the file away to let "
                    "Let's Encrypt issue a new certificate, then re-run",
                )
                for p in error.problems
            ]
        ) from None
    if not isinstance(loaded, dict) or loaded.get("kind") != "Secret" or "data" not in loaded:
        raise BadInput(
            Problem(
                str(path),
                "is not a certificate backup written by hub.uninstall; move the file away to "
                "let Let's Encrypt issue a new certificate, then re-run",
            )
        )
    return loaded


def restore(
    api: ApiClient, namespace: str, path: Path, changes: Changes
) -> Literal["restored", "present", "no backup"]:
    """Put the backup back when the cluster has no certificate secret."""
    if kube.read_secret_manifest(api, namespace, ACME_SECRET) is not None:
        return "present"
    if not path.exists():
        return "no backup"
    return restore_manifest(api, namespace, read_backup(path), changes)


def restore_manifest(
    api: ApiClient, namespace: str, manifest: dict[str, Any], changes: Changes
) -> Literal["restored", "present"]:
    """Create the secret from a portable manifest when the cluster has no certificate."""
    if kube.read_secret_manifest(api, namespace, ACME_SECRET) is not None:
        return "present"
    manifest = {**manifest, "metadata": {**manifest["metadata"]}}
    manifest["metadata"]["namespace"] = namespace
    manifest["metadata"]["name"] = ACME_SECRET
    kube.ensure(api, manifest, changes)
    return "restored"
