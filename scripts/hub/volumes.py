"""`invoke hub.volumes`: every user's storage, on this cluster and left from earlier ones.

One row per user claim (`claim-*`, KubeSpawner's `pvc_name_template`) in the hub namespace:
its PersistentVolume, the Cinder volume behind it (the PV's `csi.volumeHandle`), size,
Cinder status, the server it is attached to (Nova's name for it) and the PV's reclaim
policy. Then one row per Cinder volume whose CSI metadata says it held one of this
namespace's claims but that no PV of this cluster points at: what an earlier cluster left,
which `invoke hub.volumes-adopt` binds back (how they are recognised:
scripts/hub/volumes_adopt.py).

A reclaim policy of Delete means deleting the claim deletes the user's volume; the
warning says how to keep them. Read-only: no change is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core import cloud, kube
from ..core.console import Console
from ..core.loading import Environment
from .volumes_adopt import Volume, cinder_volumes, claims, hub_volumes

COLUMNS = ("USER", "CLAIM", "PV", "CINDER VOLUME", "SIZE", "STATUS", "SERVER", "RECLAIM")


@dataclass(frozen=True)
class Row:
    user: str
    claim: str
    pv: str
    volume: str
    size: str
    status: str
    server: str
    reclaim: str

    def cells(self) -> tuple[str, ...]:
        return (
            self.user,
            self.claim,
            self.pv,
            self.volume,
            self.size,
            self.status,
            self.server,
            self.reclaim,
        )


@dataclass
class Inventory:
    current: list[Row]
    earlier: list[tuple[Volume, Row]]  # volumes no PV here points at (cluster, row)
    delete_policy: list[str]  # PVs of user claims whose reclaim policy is Delete


def inventory(
    volumes: list[Volume], api: object, namespace: str, servers: dict[str, str] | None = None
) -> Inventory:
    """The rows; `servers` names attached servers by id (unknown ids are shown as ids)."""
    names = servers or {}

    def attached(v: Volume) -> str:
        return ", ".join(names.get(s, s) for s in v.servers)

    bound = cinder_volumes(api)
    by_id = {v.id: v for v in volumes}
    pv_by_name = {b.name: b for b in bound.values()}
    out = Inventory([], [], [])
    for claim in sorted(claims(api, namespace).values(), key=lambda c: c.name):
        pv = pv_by_name.get(claim.volume_name)
        vol = by_id.get(pv.handle) if pv else None
        reclaim = pv.reclaim_policy if pv else ""
        if pv and reclaim == "Delete":
            out.delete_policy.append(pv.name)
        out.current.append(
            Row(
                user=claim.user,
                claim=claim.name,
                pv=claim.volume_name or f"({claim.phase or 'unbound'})",
                volume=pv.handle if pv else "",
                size=f"{vol.size}Gi" if vol else claim.storage,
                status=vol.status if vol else "",
                server=attached(vol) if vol else "",
                reclaim=reclaim,
            )
        )
    for v in volumes:
        if v.id in bound:
            continue
        row = Row(
            user=v.user,
            claim=f"({v.claim})",
            pv=f"(earlier cluster {v.cluster or '?'})",
            volume=v.id,
            size=f"{v.size}Gi",
            status=v.status,
            server=attached(v) or "-",
            reclaim="",
        )
        out.earlier.append((v, row))
    return out


def table(rows: list[Row]) -> list[str]:
    cells = [COLUMNS, *(r.cells() for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


def _server_names(conn: Any) -> dict[str, str]:
    """Nova's names for the servers volumes are attached to (the cluster's nodes)."""
    listed = cloud.call("list servers", lambda: list(conn.compute.servers()))
    return {str(s.id): str(s.name) for s in listed}


def run(environment: Environment, ui: Console) -> Inventory:
    settings = environment.settings
    namespace = settings.hub.namespace
    conn = cloud.connect(settings)
    api = kube.api_client(environment.kubeconfig)
    with ui.step(f"users' storage in namespace {namespace}") as step:
        volumes = hub_volumes(conn, namespace)
        servers = _server_names(conn) if any(v.servers for v in volumes) else {}
        found = inventory(volumes, api, namespace, servers)
        step.done(f"{len(found.current)} claim(s), {len(found.earlier)} from earlier clusters")
    rows = found.current + [row for _, row in found.earlier]
    if not rows:
        ui.print("no user claims and no Cinder volumes of this hub's claims")
    else:
        for line in table(rows):
            ui.print(line)
    adoptable = [v for v, _ in found.earlier if v.status == "available" and not v.servers]
    if adoptable:
        ui.print(
            f"{len(adoptable)} volume(s) from earlier clusters are unattached; bind them back "
            f"with `invoke hub.volumes-adopt --env {environment.name} --dry-run`, then without "
            "--dry-run"
        )
    if found.delete_policy:
        ui.warn(
            f"reclaim policy Delete on {', '.join(found.delete_policy)}: deleting the claim or "
            "re-creating the cluster deletes these users' volumes. Keep them with "
            '`kubectl patch pv NAME -p \'{"spec":{"persistentVolumeReclaimPolicy":'
            '"Retain"}}\'` for each, and set hub.storage.reclaim_policy: Retain (default) '
            "for new claims (docs/data.md)"
        )
    if settings.hub.storage.reclaim_policy == "Delete":
        ui.warn(
            "hub.storage.reclaim_policy is Delete: volumes of new users are deleted with "
            "their claims; set it to Retain (docs/data.md)"
        )
    return found
