"""`invoke hub.dns`: the A record hub.domain -> hub.floating_ip in the cloud's Designate.

Designate v2 (openstack/designate, stable/2026.1) through openstacksdk's dns proxy:

- zones are listed for the project (GET /v2/zones); the zone is the one whose name is the
  longest suffix of the domain (or `hub.dns.zone`), and it must belong to this project:
  a zone shared from another project (API v2.1 shared zones) is refused.
- a recordset name is a fully qualified name with its trailing dot, inside its zone
  (central/service.py `_is_valid_recordset_name`).
- creating or changing a recordset answers 202 with status PENDING until the backend has
  it, then ACTIVE (or ERROR); the task waits for ACTIVE
  (api/v2/controllers/zones/recordsets.py, objects/recordset.py `status`).
- a second recordset with the same name and type is a 409 duplicate_recordset, so the
  task looks before it creates, and a retried create finds the first one.

A record that already points elsewhere was made by someone else (or for another
address): it is left alone unless --yes. ssl-retry's DNS check is unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core import cloud
from ..core.changes import Changes
from ..core.console import Console
from ..core.errors import BadInput, OperationFailed, Problem
from ..core.loading import Environment
from ..core.settings import Settings
from ..core.waiting import Backoff, Clock, wait_until

ACTIVE_TIMEOUT = 300.0
MANUAL = "create the A record by hand at your DNS provider, or set hub.dns.manage: false"


@dataclass(frozen=True)
class Outcome:
    zone: str
    name: str
    address: str
    action: str  # created | updated | unchanged


def fqdn(name: str) -> str:
    return name if name.endswith(".") else f"{name}."


def check(settings: Settings, *, task: str = "hub.dns") -> tuple[str, str]:
    """The record's name and address; refuse before any call when they are missing."""
    hub = settings.hub
    problems = []
    if not hub.dns.manage:
        problems.append(
            Problem("hub.dns.manage", f"is false; set it to true for {task} to manage the record")
        )
    if not hub.domain:
        problems.append(Problem("hub.domain", "required by hub.dns.manage (the record's name)"))
    if not hub.floating_ip:
        problems.append(
            Problem("hub.floating_ip", "required by hub.dns.manage (the record's address)")
        )
    if problems:
        raise BadInput(problems)
    assert hub.domain and hub.floating_ip
    return fqdn(hub.domain), hub.floating_ip


def pick_zone(zones: list[Any], name: str, wanted: str | None, project_id: str) -> Any:
    """The zone holding name: hub.dns.zone if set, else the longest matching suffix."""
    holding = [z for z in zones if name == z.name or name.endswith(f".{z.name}")]
    if wanted:
        holding = [z for z in holding if z.name == fqdn(wanted)]
        if not holding:
            raise OperationFailed(
                f"hub.dns.zone {fqdn(wanted)} is not a DNS zone of this project that "
                f"contains {name}",
                "check the name with `openstack zone list`, or leave hub.dns.zone empty",
            )
    if not holding:
        seen = ", ".join(sorted(z.name for z in zones)) or "none"
        raise OperationFailed(
            f"no DNS zone of this project contains {name} (zones: {seen})",
            f"create the zone (`openstack zone create --email ADMIN@DOMAIN ZONE.`) or {MANUAL}",
        )
    zone = max(holding, key=lambda z: len(z.name))
    if zone.project_id and zone.project_id != project_id:
        raise OperationFailed(
            f"DNS zone {zone.name} belongs to project {zone.project_id}, not this one "
            f"({project_id}); it is only shared with it",
            f"ask the zone's owners for the record, or {MANUAL}",
        )
    return zone


def run(
    environment: Environment,
    ui: Console,
    *,
    dry_run: bool,
    yes: bool = False,
    connection: Any = None,
    clock: Clock | None = None,
) -> Outcome:
    settings = environment.settings
    name, address = check(settings)
    conn = connection or cloud.connect(settings)
    changes = Changes(ui, dry_run)
    with ui.step(f"DNS zone for {name}") as step:
        if not cloud.call("read the service catalog", lambda: conn.has_service("dns")):
            raise OperationFailed(
                "this cloud has no DNS service (Designate) in its catalog", MANUAL
            )
        zones = cloud.call("list DNS zones", lambda: list(conn.dns.zones()))
        project = str(conn.current_project_id or "")
        zone = pick_zone(zones, name, settings.hub.dns.zone, project)
        step.done(zone.name)
    ttl = settings.hub.dns.ttl
    with ui.step(f"A record {name} → {address}") as step:
        found = cloud.call(
            f"look up the A record {name}",
            lambda: list(conn.dns.recordsets(zone, name=name, type="A")),
        )
        if not found:
            action = "created"
            made = changes.make(
                f"create A record {name} → {address} (ttl {ttl}) in zone {zone.name}",
                lambda: cloud.create_once(
                    f"create the A record {name}",
                    lambda: _only(list(conn.dns.recordsets(zone, name=name, type="A"))),
                    lambda: conn.dns.create_recordset(
                        zone, name=name, type="A", records=[address], ttl=ttl
                    ),
                    clock=clock,
                ),
            )
        else:
            record = found[0]
            records = sorted(record.records or [])
            if records == [address] and record.ttl == ttl:
                step.unchanged(f"already points there (ttl {ttl}) in zone {zone.name}")
                return Outcome(zone.name, name, address, "unchanged")
            if records != [address] and not yes:
                raise OperationFailed(
                    f"the A record {name} points to {', '.join(records) or 'nothing'}, not to "
                    f"hub.floating_ip {address}; it was left alone",
                    f"if it may be replaced, re-run `invoke hub.dns --env {environment.name} "
                    "--yes`; otherwise fix hub.floating_ip or hub.domain",
                )
            action = "updated"
            made = changes.make(
                f"update A record {name}: {', '.join(records)} (ttl {record.ttl}) → {address} "
                f"(ttl {ttl})",
                lambda: cloud.call(
                    f"update the A record {name}",
                    lambda: conn.dns.update_recordset(record, records=[address], ttl=ttl),
                ),
            )
        if dry_run:
            step.planned(f"would be {action}")
            return Outcome(zone.name, name, address, action)
        _wait_active(conn, zone, made, name, clock)
        step.done(f"{action}; ACTIVE in zone {zone.name}")
    return Outcome(zone.name, name, address, action)


def _only(found: list[Any]) -> Any:
    return found[0] if found else None


def _wait_active(conn: Any, zone: Any, record: Any, name: str, clock: Clock | None) -> None:
    def active() -> bool | None:
        current = cloud.call(
            f"read the A record {name}", lambda: conn.dns.get_recordset(record, zone)
        )
        if current.status == "ERROR":
            raise OperationFailed(
                f"Designate could not publish the A record {name} (status ERROR)",
                "ask the cloud's operators to check Designate's backend, then re-run",
            )
        return True if current.status == "ACTIVE" else None

    wait_until(
        active,
        what=f"the A record {name} to become ACTIVE",
        timeout=ACTIVE_TIMEOUT,
        remedy="Designate's backend is slow or stuck; re-run later (the record exists)",
        backoff=Backoff(initial=1.0, factor=2.0, cap=10.0),
        clock=clock,
    )
