"""Deleting a load balancer and releasing floating IPs, shared by cleanup and recreate.

Every mutating call goes through Changes (so --dry-run only prints it) and
core.cloud.call (so a 409 while Octavia is busy, or a 5xx, is retried).
"""

from __future__ import annotations

from typing import Any

from ..core import cloud
from ..core.changes import Changes
from ..core.console import Console
from ..core.errors import OperationFailed
from ..core.waiting import Backoff, Clock, wait_until
from .inventory import Balancer, FloatingIp

# Octavia deletes an amphora load balancer in about a minute; a busy one can take longer.
GONE_TIMEOUT = 15 * 60.0


def delete_balancer(
    conn: Any, balancer: Balancer, changes: Changes, *, clock: Clock | None = None
) -> None:
    """Delete with cascade (listeners, pools, members go with it)."""
    octavia = conn.load_balancer
    changes.make(
        f"delete load balancer {balancer.name} ({balancer.id}) with its listeners and pools",
        lambda: cloud.call(
            f"delete load balancer {balancer.name}",
            lambda: octavia.delete_load_balancer(balancer.id, ignore_missing=True, cascade=True),
            clock=clock,
        ),
    )


def current_status(conn: Any, balancer_id: str, *, clock: Clock | None = None) -> str | None:
    """The load balancer's provisioning status; None once it is gone."""
    from openstack import exceptions

    def read() -> str | None:
        try:
            found = conn.load_balancer.get_load_balancer(balancer_id)
        except exceptions.NotFoundException:
            return None
        status = str(found.provisioning_status or "")
        return None if status == "DELETED" else status

    return cloud.call(f"read load balancer {balancer_id}", read, clock=clock)


def wait_gone(conn: Any, balancer: Balancer, ui: Console, *, clock: Clock | None = None) -> None:
    def probe() -> bool | None:
        status = current_status(conn, balancer.id, clock=clock)
        if status == "ERROR":
            raise OperationFailed(
                f"Octavia could not delete load balancer {balancer.name} (it is in ERROR)",
                f"try `openstack loadbalancer delete --cascade {balancer.id}` again; if it stays "
                "in ERROR, ask the cloud's operators (the amphora may need a failover)",
            )
        return True if status is None else None

    with ui.waiting(f"deleting load balancer {balancer.name}") as line:
        wait_until(
            probe,
            what=f"load balancer {balancer.name} to be deleted",
            timeout=GONE_TIMEOUT,
            remedy=f"see `openstack loadbalancer show {balancer.id}`, then re-run",
            backoff=Backoff(initial=2.0, factor=1.6, cap=20.0),
            clock=clock,
            on_poll=lambda elapsed: line.update(f"{elapsed:.0f}s"),
        )


def release_ip(
    conn: Any,
    ip: FloatingIp,
    changes: Changes,
    *,
    pinned: str | None,
    clock: Clock | None = None,
) -> None:
    """Give a floating IP back to the pool; the pinned hub address is refused here too,
    whatever the caller decided, because losing it breaks the hub's DNS name."""
    if pinned is not None and ip.address == pinned:
        raise OperationFailed(
            f"refusing to release {ip.address}: it is hub.floating_ip",
            "this is a bug in the caller; nothing was released",
        )
    changes.make(
        f"release floating IP {ip.address} ({ip.description})",
        lambda: cloud.call(
            f"release floating IP {ip.address}",
            lambda: conn.network.delete_ip(ip.id, ignore_missing=True),
            clock=clock,
        ),
    )
