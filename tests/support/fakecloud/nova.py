"""Compute (Nova v2.1): flavors (with extra specs) and servers.

Seeded with flavors m1.small … m1.xlarge and a GPU flavor ``g1.large.a100``. The reply echoes
the requested compute microversion (``OpenStack-API-Version`` and
``X-OpenStack-Nova-API-Version``).

Flavor extra specs follow openstack/nova master (00a030403f672b975364c855b7d25b40ef83e757):
a flavor's ``extra_specs`` are part of ``GET /flavors/{id}`` and ``/flavors/detail`` only
from microversion 2.61 (``nova/api/openstack/compute/flavors.py`` ``show``/``detail``:
``api_version_request.is_supported(req, '2.61')``; "2.61 - Exposes flavor extra_specs in
the flavor representation", ``api_version_request.py``); below it they come from
``GET /flavors/{id}/os-extra_specs`` (``flavors_extraspecs.py`` ``index``:
``{"extra_specs": {...}}``). The GPU flavor asks for its device the way a PCI passthrough
flavor does (``pci_passthrough:alias``, ``doc/source/admin/pci-passthrough.rst``).
"""

from __future__ import annotations

import copy
import re
import uuid
from typing import Any, ClassVar

from tests.support.fakecloud.core import (
    PROJECT_ID,
    SEG,
    USER_ID,
    ApiError,
    CloudCore,
    Endpoint,
    Reply,
    Req,
    Route,
    route,
)
from tests.support.fakecloud.core import new_id as _new_id

NOVA = "https://nova.fake.test"


class Nova(CloudCore):
    """Nova: flavors and the servers Magnum creates for node groups."""

    ENDPOINT = Endpoint(
        name="nova",
        catalog_type="compute",
        host="nova.fake.test",
        path="/v2.1",
        prefixes=("/v2.1",),
    )
    STORES: ClassVar[tuple[str, ...]] = ("flavors", "servers")

    def setup(self) -> None:
        self.flavors: dict[str, dict[str, Any]] = {}
        self.servers: dict[str, dict[str, Any]] = {}
        for name, vcpus, ram, disk, extra in (
            ("m1.small", 1, 2048, 20, {}),
            ("m1.medium", 2, 4096, 40, {}),
            ("m1.large", 4, 8192, 80, {}),
            ("m1.xlarge", 8, 16384, 160, {}),
            (
                "g1.large.a100",
                16,
                65536,
                100,
                {"pci_passthrough:alias": "a100:1"},
            ),
        ):
            self.add_flavor(name, vcpus=vcpus, ram=ram, disk=disk, extra_specs=extra)

    def routes(self) -> list[Route]:
        seg = SEG
        r = route
        return [
            r("GET", r"/flavors", self._flavor_list_summary),
            r("GET", r"/flavors/detail", self._flavor_list),
            r("GET", rf"/flavors/{seg}", self._flavor_get),
            r("GET", rf"/flavors/{seg}/os-extra_specs", self._flavor_extra_specs),
            r("GET", r"/servers", self._server_list_summary),
            r("GET", r"/servers/detail", self._server_list),
            r("GET", rf"/servers/{seg}", self._server_get),
        ]

    def negotiate(self, req: Req) -> dict[str, str]:
        requested = req.headers.get("OpenStack-API-Version", "compute 2.1")
        return {
            "OpenStack-API-Version": requested,
            "X-OpenStack-Nova-API-Version": requested.split()[-1],
        }

    def error_body(self, e: ApiError) -> Any:
        key = {
            400: "badRequest",
            401: "unauthorized",
            403: "forbidden",
            404: "itemNotFound",
            409: "conflictingRequest",
        }.get(e.status, "computeFault")
        return {key: {"code": e.status, "message": e.message}}

    def version_document(self, endpoint: Endpoint) -> Any:
        return {
            "version": {
                "id": "v2.1",
                "status": "CURRENT",
                "version": "2.96",
                "min_version": "2.1",
                "updated": "2013-07-23T11:33:21Z",
                "links": [{"rel": "self", "href": f"{NOVA}/v2.1/"}],
            }
        }

    def root_document(self, endpoint: Endpoint) -> Any:
        return {"versions": [Nova.version_document(self, endpoint)["version"]]}

    def add_flavor(
        self,
        name: str,
        *,
        vcpus: int,
        ram: int,
        disk: int,
        extra_specs: dict[str, str] | None = None,
        flavor_id: str | None = None,
        is_public: bool = True,
    ) -> dict[str, Any]:
        """Seed a flavor (``ram`` in MiB, ``disk`` in GiB); returns it."""
        ident = flavor_id or _new_id()
        flavor = {
            "id": ident,
            "name": name,
            "vcpus": vcpus,
            "ram": ram,
            "disk": disk,
            "swap": 0,
            "OS-FLV-EXT-DATA:ephemeral": 0,
            "OS-FLV-DISABLED:disabled": False,
            "os-flavor-access:is_public": is_public,
            "rxtx_factor": 1.0,
            "description": None,
            "extra_specs": dict(extra_specs or {}),
            "links": [
                {"href": f"{NOVA}/v2.1/flavors/{ident}", "rel": "self"},
                {"href": f"{NOVA}/flavors/{ident}", "rel": "bookmark"},
            ],
        }
        self.flavors[ident] = flavor
        return flavor

    @staticmethod
    def _nova_version(req: Req) -> tuple[int, int]:
        header = req.headers.get("OpenStack-API-Version") or ""
        value = header.split()[-1] if header.split() else ""
        if not value:
            value = req.headers.get("X-OpenStack-Nova-API-Version") or "2.1"
        major, _, minor = value.partition(".")
        return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else (2, 1)

    def _flavor_view(self, req: Req, flavor: dict[str, Any]) -> dict[str, Any]:
        view = copy.deepcopy(flavor)
        if self._nova_version(req) < (2, 61):
            view.pop("extra_specs", None)
        return view

    def _flavor_extra_specs(self, req: Req, ident: str) -> Reply:
        if ident not in self.flavors:
            raise ApiError(404, f"Flavor {ident} could not be found.")
        return Reply(200, {"extra_specs": dict(self.flavors[ident]["extra_specs"])})

    def _flavor_list(self, req: Req) -> Reply:
        public = (req.q("is_public") or "true").lower()
        items = [
            f
            for f in self.flavors.values()
            if public == "none"
            or f["os-flavor-access:is_public"] == (public in {"true", "1", "t", "yes"})
        ]
        return Reply(200, {"flavors": [self._flavor_view(req, f) for f in items]})

    def _flavor_list_summary(self, req: Req) -> Reply:
        items = self._flavor_list(req).body["flavors"]
        return Reply(
            200,
            {"flavors": [{k: f[k] for k in ("id", "name", "links", "description")} for f in items]},
        )

    def _flavor_get(self, req: Req, ident: str) -> Reply:
        if ident not in self.flavors:
            raise ApiError(404, f"Flavor {ident} could not be found.")
        return Reply(200, {"flavor": self._flavor_view(req, self.flavors[ident])})

    def add_server(
        self,
        name: str,
        *,
        flavor: str = "m1.medium",
        address: str | None = None,
        status: str = "ACTIVE",
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Seed a Nova server on the private network (flavor by name or id); returns it."""
        fl = next((f for f in self.flavors.values() if flavor in (f["id"], f["name"])), None)
        if fl is None:
            raise KeyError(f"no flavor {flavor!r}")
        ident = _new_id()
        ip = address or self._next_private_ip()
        server = {
            "id": ident,
            "name": name,
            "status": status,
            "tenant_id": PROJECT_ID,
            "user_id": USER_ID,
            "metadata": dict(metadata or {}),
            "hostId": uuid.uuid4().hex,
            "image": {"id": _new_id()},
            "key_name": None,
            "created": self._ts() + "Z",
            "updated": self._ts() + "Z",
            "progress": 0,
            "accessIPv4": "",
            "accessIPv6": "",
            "config_drive": "",
            "locked": False,
            "tags": [],
            "description": None,
            "addresses": {
                "private": [
                    {
                        "addr": ip,
                        "version": 4,
                        "OS-EXT-IPS:type": "fixed",
                        "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01",
                    }
                ]
            },
            "flavor": {
                "original_name": fl["name"],
                "vcpus": fl["vcpus"],
                "ram": fl["ram"],
                "disk": fl["disk"],
                "ephemeral": 0,
                "swap": 0,
                "extra_specs": dict(fl["extra_specs"]),
            },
            "OS-EXT-STS:vm_state": "active" if status == "ACTIVE" else status.lower(),
            "OS-EXT-STS:task_state": None,
            "OS-EXT-STS:power_state": 1,
            "OS-EXT-AZ:availability_zone": "nova",
            "security_groups": [{"name": "default"}],
            "os-extended-volumes:volumes_attached": [],
            "links": [{"href": f"{NOVA}/v2.1/servers/{ident}", "rel": "self"}],
        }
        self.servers[ident] = server
        return server

    def remove_server(self, name_or_id: str) -> None:
        """Make a server disappear (e.g. a node replaced behind an LB's back)."""
        for ident, server in list(self.servers.items()):
            if name_or_id in (ident, server["name"]):
                del self.servers[ident]

    def _server_items(self, req: Req) -> list[dict[str, Any]]:
        name = req.q("name")
        status = req.q("status")
        return [
            s
            for s in self.servers.values()
            if (name is None or re.search(name, s["name"]))
            and (status is None or s["status"] == status.upper())
        ]

    def _server_list(self, req: Req) -> Reply:
        return Reply(200, {"servers": copy.deepcopy(self._server_items(req))})

    def _server_list_summary(self, req: Req) -> Reply:
        return Reply(
            200,
            {
                "servers": [
                    {k: s[k] for k in ("id", "name", "links")} for s in self._server_items(req)
                ]
            },
        )

    def _server_get(self, req: Req, ident: str) -> Reply:
        if ident not in self.servers:
            raise ApiError(404, "Instance could not be found.")
        return Reply(200, {"server": copy.deepcopy(self.servers[ident])})
