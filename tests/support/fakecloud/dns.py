"""DNS (Designate v2): zones and recordsets, as openstacksdk's dns proxy uses them.

Every behaviour follows openstack/designate at stable/2026.1 (docs/testing.md, "DNS
(Designate)", lists them with their files):

- ``GET /`` lists the versions (``designate/api/versions.py``: ``{"versions": [...]}``
  with v2, v2.0, v2.1 SUPPORTED and v2.2 CURRENT, each linking to ``<root>/v2``).
- zones and recordsets are listed as ``{"zones"|"recordsets": [...], "links": {"self"},
  "metadata": {"total_count"}}`` and filtered by ``name``/``type``/``status``
  (``api/v2/controllers/rest.py``, ``zones/recordsets.py`` ``get_all``); a zone lists only
  to its project and the projects it is shared with (``api/v2/controllers/zones``).
- ``POST /v2/zones/{id}/recordsets`` answers 202 with ``status: PENDING``, ``action:
  CREATE`` and a ``Location`` header (``zones/recordsets.py`` ``post_all``); ``PUT``
  answers 202 with ``action: UPDATE`` (``put_one``); the zone goes PENDING too
  (``central/service.py`` ``_update_zone_in_storage``). Both settle to ACTIVE after
  :attr:`FakeCloud.settle_polls` GETs of the recordset (``objects/recordset.py`` ``status``).
- refusals: a name without its trailing dot (``central/service.py``
  ``_is_valid_recordset_name``: "Please supply a FQDN", which the API returns as 400
  invalid_object), a name outside the zone (400 invalid_recordset_location "RecordSet is
  not contained within it's parent zone"), a second recordset with the same name and
  type (409 duplicate_recordset "Duplicate RecordSet", ``storage/sqlalchemy/base.py``),
  SOA records (400 bad_request), a changed name or type in a PUT (400 invalid_object
  "Provided object does not match schema. Keys ['name'] are not valid for recordset",
  ``objects/adapters/base.py`` with ``immutable`` fields in
  ``objects/adapters/api_v2/recordset.py``), a malformed id (400 invalid_uuid,
  ``utils.py`` ``validate_uuid``), unknown zones and recordsets (404 zone_not_found /
  recordset_not_found "Could not find Zone|RecordSet", ``storage/sqlalchemy/base.py``).
- errors are ``{"code", "type", "message", "request_id"}`` (``api/middleware.py``
  ``FaultWrapperMiddleware``).
"""

from __future__ import annotations

import copy
import ipaddress
import re
import uuid
from typing import Any, ClassVar

from tests.support.fakecloud.core import (
    PROJECT_ID,
    SEG,
    ApiError,
    CloudCore,
    Endpoint,
    Reply,
    Req,
    Route,
    route,
)
from tests.support.fakecloud.core import new_id as _new_id

DESIGNATE = "https://designate.fake.test"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Record types the v2 API accepts (objects/recordset.py, RecordSet.type choices).
_TYPES = {
    "A",
    "AAAA",
    "CNAME",
    "MX",
    "SRV",
    "TXT",
    "SPF",
    "NS",
    "PTR",
    "SSHFP",
    "SOA",
    "NAPTR",
    "CAA",
}


class Designate(CloudCore):
    """Designate: the project's zones and their recordsets."""

    ENDPOINT = Endpoint(
        name="designate",
        catalog_type="dns",
        host="designate.fake.test",
        path="",
        prefixes=("/v2",),
    )
    STORES: ClassVar[tuple[str, ...]] = ("zones", "recordsets")

    def setup(self) -> None:
        self.zones: dict[str, dict[str, Any]] = {}
        self.recordsets: dict[str, dict[str, Any]] = {}

    def routes(self) -> list[Route]:
        seg = SEG
        r = route
        return [
            r("GET", r"/zones", self._zone_list),
            r("GET", rf"/zones/{seg}", self._zone_get),
            r("GET", rf"/zones/{seg}/recordsets", self._recordset_list),
            r("POST", rf"/zones/{seg}/recordsets", self._recordset_create),
            r("GET", rf"/zones/{seg}/recordsets/{seg}", self._recordset_get),
            r("PUT", rf"/zones/{seg}/recordsets/{seg}", self._recordset_update),
        ]

    def error_body(self, e: ApiError) -> Any:
        kind = e.kind or {400: "bad_request", 404: "not_found", 409: "duplicate"}.get(
            e.status, "internal_server_error"
        )
        return {
            "code": e.status,
            "type": kind,
            "message": e.message,
            "request_id": f"req-{uuid.uuid4()}",
        }

    def _version(self, ident: str, status: str, updated: str) -> dict[str, Any]:
        return {
            "id": ident,
            "status": status,
            "updated": updated,
            "links": [{"href": f"{DESIGNATE}/v2", "rel": "self"}],
        }

    def root_document(self, endpoint: Endpoint) -> Any:
        return {
            "versions": [
                Designate._version(self, "v2", "SUPPORTED", "2022-06-29T00:00:00Z"),
                Designate._version(self, "v2.0", "SUPPORTED", "2022-06-29T00:00:00Z"),
                Designate._version(self, "v2.1", "SUPPORTED", "2023-01-25T00:00:00Z"),
                Designate._version(self, "v2.2", "CURRENT", "2025-08-25T00:00:00Z"),
            ]
        }

    def version_document(self, endpoint: Endpoint) -> Any:
        return Designate.root_document(self, endpoint)

    # ---------------------------------------------------------------- seeding
    def add_zone(
        self, name: str, *, project_id: str = PROJECT_ID, shared_with_us: bool = False
    ) -> dict[str, Any]:
        """Seed an ACTIVE zone (``name`` with its trailing dot) with its SOA and NS sets.

        ``project_id`` other than ours with ``shared_with_us`` models a zone another
        project shared with this one (API v2.1); without it the zone is invisible here.
        """
        ident = _new_id()
        zone: dict[str, Any] = {
            "id": ident,
            "pool_id": "794ccc2c-d751-44fe-b57f-8894c9f5c842",
            "project_id": project_id,
            "name": name,
            "email": f"hostmaster@{name.rstrip('.')}",
            "description": None,
            "ttl": 3600,
            "serial": 1767225600,
            "shared": shared_with_us,
            "status": "ACTIVE",
            "action": "NONE",
            "version": 1,
            "attributes": {},
            "type": "PRIMARY",
            "masters": [],
            "created_at": self._ts() + ".000000",
            "updated_at": None,
            "transferred_at": None,
            "links": {"self": f"{DESIGNATE}/v2/zones/{ident}"},
        }
        self.zones[ident] = zone
        self._store_recordset(
            zone,
            name,
            "SOA",
            [f"ns1.{name} {zone['email']}. 1 3600 600 86400 3600"],
            None,
            managed=True,
        )
        self._store_recordset(zone, name, "NS", [f"ns1.{name}"], None, managed=True)
        return zone

    def add_recordset(
        self, zone_name: str, name: str, rtype: str, records: list[str], ttl: int | None = 300
    ) -> dict[str, Any]:
        """Seed an ACTIVE recordset (as if someone else had made it)."""
        zone = next(z for z in self.zones.values() if z["name"] == zone_name)
        return self._store_recordset(zone, name, rtype, records, ttl)

    def _store_recordset(
        self,
        zone: dict[str, Any],
        name: str,
        rtype: str,
        records: list[str],
        ttl: int | None,
        *,
        managed: bool = False,
    ) -> dict[str, Any]:
        ident = _new_id()
        recordset = {
            "id": ident,
            "zone_id": zone["id"],
            "project_id": zone["project_id"],
            "name": name,
            "zone_name": zone["name"],
            "type": rtype,
            "records": list(records),
            "description": None,
            "ttl": ttl,
            "status": "ACTIVE",
            "action": "NONE",
            "version": 1,
            "created_at": self._ts() + ".000000",
            "updated_at": None,
            "links": {"self": f"{DESIGNATE}/v2/zones/{zone['id']}/recordsets/{ident}"},
            "_managed": managed,
        }
        self.recordsets[ident] = recordset
        return recordset

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _public(item: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("_")}

    @staticmethod
    def _check_uuid(name: str, value: str) -> None:
        if not _UUID.match(value):
            raise ApiError(400, f"Invalid UUID {name}: {value}", "invalid_uuid")

    def _visible(self, zone: dict[str, Any]) -> bool:
        return zone["project_id"] == PROJECT_ID or bool(zone["shared"])

    def _zone(self, ident: str) -> dict[str, Any]:
        self._check_uuid("zone_id", ident)
        zone = self.zones.get(ident)
        if zone is None or not self._visible(zone):
            raise ApiError(404, "Could not find Zone", "zone_not_found")
        return zone

    def _recordset(self, zone: dict[str, Any], ident: str) -> dict[str, Any]:
        self._check_uuid("recordset_id", ident)
        recordset = self.recordsets.get(ident)
        if recordset is None or recordset["zone_id"] != zone["id"]:
            raise ApiError(404, "Could not find RecordSet", "recordset_not_found")
        return recordset

    def _page(self, key: str, items: list[dict[str, Any]], path: str) -> Reply:
        return Reply(
            200,
            {
                key: [self._public(i) for i in items],
                "links": {"self": f"{DESIGNATE}/v2/{path}"},
                "metadata": {"total_count": len(items)},
            },
        )

    def _settle(self, recordset_id: str) -> None:
        recordset = self.recordsets.get(recordset_id)
        if recordset is None:
            return
        recordset["status"], recordset["action"] = "ACTIVE", "NONE"
        zone = self.zones[recordset["zone_id"]]
        zone["status"], zone["action"] = "ACTIVE", "NONE"

    def _mark_pending(self, recordset: dict[str, Any], action: str) -> None:
        recordset["status"], recordset["action"] = "PENDING", action
        recordset["version"] += 1
        recordset["updated_at"] = self._ts() + ".000000"
        zone = self.zones[recordset["zone_id"]]
        zone["status"], zone["action"] = "PENDING", "UPDATE"
        zone["serial"] += 1
        self._schedule(("recordset", recordset["id"]), lambda: self._settle(recordset["id"]))

    @staticmethod
    def _check_records(rtype: str, records: Any) -> list[str]:
        if not isinstance(records, list) or not all(isinstance(r, str) for r in records):
            raise ApiError(400, "Provided object does not match schema", "invalid_object")
        if rtype == "A":
            for record in records:
                try:
                    ipaddress.IPv4Address(record)
                except ValueError:
                    raise ApiError(
                        400, "Provided object does not match schema", "invalid_object"
                    ) from None
        return list(records)

    # ---------------------------------------------------------------- zones
    def _zone_list(self, req: Req) -> Reply:
        zones = self._filter([z for z in self.zones.values() if self._visible(z)], req)
        return self._page("zones", zones, "zones")

    def _zone_get(self, req: Req, ident: str) -> Reply:
        return Reply(200, self._public(self._zone(ident)))

    # ---------------------------------------------------------------- recordsets
    def _recordset_list(self, req: Req, zone_id: str) -> Reply:
        zone = self._zone(zone_id)
        items = [r for r in self.recordsets.values() if r["zone_id"] == zone["id"]]
        for item in items:
            self._poll(("recordset", item["id"]))
        return self._page("recordsets", self._filter(items, req), f"zones/{zone_id}/recordsets")

    def _recordset_get(self, req: Req, zone_id: str, ident: str) -> Reply:
        zone = self._zone(zone_id)
        self._recordset(zone, ident)
        self._poll(("recordset", ident))
        return Reply(200, self._public(self._recordset(zone, ident)))

    def _recordset_create(self, req: Req, zone_id: str) -> Reply:
        zone = self._zone(zone_id)
        body = req.body if isinstance(req.body, dict) else {}
        name, rtype = body.get("name"), body.get("type")
        if not isinstance(name, str) or rtype not in _TYPES:
            raise ApiError(400, "Provided object does not match schema", "invalid_object")
        if rtype == "SOA":
            raise ApiError(400, "Creating a SOA recordset is not allowed", "bad_request")
        if not name.endswith("."):
            raise ApiError(400, "Please supply a FQDN", "invalid_object")
        if name != zone["name"] and not name.endswith("." + zone["name"]):
            raise ApiError(
                400,
                "RecordSet is not contained within it's parent zone",
                "invalid_recordset_location",
            )
        if any(
            r["zone_id"] == zone["id"] and r["name"] == name and r["type"] == rtype
            for r in self.recordsets.values()
        ):
            raise ApiError(409, "Duplicate RecordSet", "duplicate_recordset")
        records = self._check_records(rtype, body.get("records"))
        ttl = body.get("ttl")
        if ttl is not None and (not isinstance(ttl, int) or not 0 <= ttl <= 2147483647):
            raise ApiError(400, "Provided object does not match schema", "invalid_object")
        recordset = self._store_recordset(zone, name, rtype, records, ttl)
        if isinstance(body.get("description"), str):
            recordset["description"] = body["description"]
        recordset["version"] = 0
        self._mark_pending(recordset, "CREATE")
        return Reply(202, self._public(recordset), {"Location": recordset["links"]["self"]})

    def _recordset_update(self, req: Req, zone_id: str, ident: str) -> Reply:
        zone = self._zone(zone_id)
        recordset = self._recordset(zone, ident)
        if recordset["_managed"]:
            raise ApiError(400, "Managed records may not be updated", "bad_request")
        if recordset["type"] == "SOA":
            raise ApiError(400, "Updating SOA recordsets is not allowed", "bad_request")
        body = req.body if isinstance(req.body, dict) else {}
        # Immutable (name, type) and read-only fields may be sent, but only unchanged.
        writable = {"records", "ttl", "description"}
        changed = [k for k in body if k not in writable and body[k] != recordset.get(k)]
        if changed:
            keys = changed[:1]
            raise ApiError(
                400,
                f"Provided object does not match schema. Keys {keys} are not valid for recordset",
                "invalid_object",
            )
        if "records" in body:
            recordset["records"] = self._check_records(recordset["type"], body["records"])
        if "ttl" in body:
            recordset["ttl"] = body["ttl"]
        if "description" in body:
            recordset["description"] = body["description"]
        self._mark_pending(recordset, "UPDATE")
        return Reply(202, self._public(recordset))
