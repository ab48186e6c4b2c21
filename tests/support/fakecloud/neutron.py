"""Networking (Neutron v2.0): networks, subnets, ports and floating IPs.

Seeded with an external network ``public`` (203.0.113.0/24) and a tenant network ``private``
(10.0.0.0/24). Errors use Neutron's ``{"NeutronError": {"type", "message", "detail"}}`` body.
"""

from __future__ import annotations

import copy
import ipaddress
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

NEUTRON = "https://neutron.fake.test"


class Neutron(CloudCore):
    """Neutron: ports come and go with their owners; floating IPs follow their ports."""

    ENDPOINT = Endpoint(
        name="neutron",
        catalog_type="network",
        host="neutron.fake.test",
        prefixes=("/v2.0",),
    )
    STORES: ClassVar[tuple[str, ...]] = ("networks", "subnets", "ports", "floating_ips")

    def setup(self) -> None:
        self.networks: dict[str, dict[str, Any]] = {}
        self.subnets: dict[str, dict[str, Any]] = {}
        self.ports: dict[str, dict[str, Any]] = {}
        self.floating_ips: dict[str, dict[str, Any]] = {}
        public = self._add_network(
            "public", external=True, cidr="203.0.113.0/24", subnet_name="public-subnet"
        )
        self._add_network(
            "private", external=False, cidr="10.0.0.0/24", subnet_name="private-subnet"
        )
        self.public_network_id: str = public["id"]

    def routes(self) -> list[Route]:
        seg = SEG
        r = route
        return [
            r("GET", r"/networks", self._net_list),
            r("GET", rf"/networks/{seg}", self._net_get),
            r("GET", r"/subnets", self._subnet_list),
            r("GET", rf"/subnets/{seg}", self._subnet_get),
            r("GET", r"/ports", self._port_list),
            r("POST", r"/ports", self._port_create),
            r("GET", rf"/ports/{seg}", self._port_get),
            r("DELETE", rf"/ports/{seg}", self._port_delete),
            r("GET", r"/floatingips", self._fip_list),
            r("POST", r"/floatingips", self._fip_create),
            r("GET", rf"/floatingips/{seg}", self._fip_get),
            r("PUT", rf"/floatingips/{seg}", self._fip_update),
            r("DELETE", rf"/floatingips/{seg}", self._fip_delete),
        ]

    def error_body(self, e: ApiError) -> Any:
        return {"NeutronError": {"type": e.kind or "HTTPError", "message": e.message, "detail": ""}}

    def _add_network(
        self, name: str, *, external: bool, cidr: str, subnet_name: str
    ) -> dict[str, Any]:
        net_id, subnet_id = _new_id(), _new_id()
        net = {
            "id": net_id,
            "name": name,
            "status": "ACTIVE",
            "router:external": external,
            "subnets": [subnet_id],
            "admin_state_up": True,
            "shared": False,
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "mtu": 1500,
            "description": "",
            "availability_zones": ["nova"],
            "availability_zone_hints": [],
            "tags": [],
            "is_default": external,
            "port_security_enabled": True,
            "ipv4_address_scope": None,
            "ipv6_address_scope": None,
            "qos_policy_id": None,
            "revision_number": 1,
            "created_at": self._ts() + "Z",
            "updated_at": self._ts() + "Z",
        }
        network = ipaddress.ip_network(cidr)
        self.networks[net_id] = net
        self.subnets[subnet_id] = {
            "id": subnet_id,
            "name": subnet_name,
            "network_id": net_id,
            "cidr": cidr,
            "ip_version": 4,
            "gateway_ip": str(next(network.hosts())),
            "enable_dhcp": True,
            "allocation_pools": [{"start": str(network[10]), "end": str(network[-2])}],
            "dns_nameservers": [],
            "host_routes": [],
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "description": "",
            "tags": [],
            "revision_number": 1,
            "created_at": self._ts() + "Z",
            "updated_at": self._ts() + "Z",
        }
        return net

    def _subnet_named(self, name: str) -> dict[str, Any]:
        return next(s for s in self.subnets.values() if s["name"] == name)

    def _neutron_list(self, store: dict[str, dict[str, Any]], key: str, req: Req) -> Reply:
        return Reply(200, {key: copy.deepcopy(self._filter(store.values(), req))})

    def _neutron_get(
        self, store: dict[str, dict[str, Any]], key: str, ident: str, what: str
    ) -> Reply:
        if ident not in store:
            raise ApiError(404, f"{what} {ident} could not be found.", f"{what}NotFound")
        return Reply(200, {key: copy.deepcopy(store[ident])})

    def _net_list(self, req: Req) -> Reply:
        return self._neutron_list(self.networks, "networks", req)

    def _net_get(self, req: Req, ident: str) -> Reply:
        return self._neutron_get(self.networks, "network", ident, "Network")

    def _subnet_list(self, req: Req) -> Reply:
        return self._neutron_list(self.subnets, "subnets", req)

    def _subnet_get(self, req: Req, ident: str) -> Reply:
        return self._neutron_get(self.subnets, "subnet", ident, "Subnet")

    def add_port(
        self,
        name: str = "",
        *,
        network: str = "private",
        ip: str | None = None,
        device_id: str = "",
        device_owner: str = "",
    ) -> dict[str, Any]:
        """Seed a Neutron port (network by name or id); returns it."""
        net = next(n for n in self.networks.values() if network in (n["id"], n["name"]))
        return self._new_port(
            {
                "name": name,
                "network_id": net["id"],
                "ip_address": ip,
                "device_id": device_id,
                "device_owner": device_owner,
            }
        )

    def _new_port(self, body: dict[str, Any]) -> dict[str, Any]:
        net = self.networks.get(body.get("network_id", ""))
        if net is None:
            raise ApiError(
                404, f"Network {body.get('network_id')} could not be found.", "NetworkNotFound"
            )
        subnet = self.subnets[net["subnets"][0]]
        ip = body.get("ip_address")
        if ip is None and body.get("fixed_ips"):
            ip = body["fixed_ips"][0].get("ip_address")
        if ip is None:
            ip = self._next_public_ip() if net["router:external"] else self._next_private_ip()
        ident = _new_id()
        port = {
            "id": ident,
            "name": body.get("name", ""),
            "network_id": net["id"],
            "mac_address": "fa:16:3e:" + ":".join(f"{b:02x}" for b in uuid.UUID(ident).bytes[:3]),
            "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": ip}],
            "device_id": body.get("device_id", ""),
            "device_owner": body.get("device_owner", ""),
            "status": "ACTIVE",
            "admin_state_up": True,
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "security_groups": [],
            "description": "",
            "binding:vnic_type": "normal",
            "tags": [],
            "allowed_address_pairs": [],
            "extra_dhcp_opts": [],
            "revision_number": 1,
            "created_at": self._ts() + "Z",
            "updated_at": self._ts() + "Z",
        }
        self.ports[ident] = port
        return port

    def _port_gone(self, port_id: str) -> None:
        for fip in self.floating_ips.values():
            if fip["port_id"] == port_id:
                fip.update(
                    port_id=None,
                    fixed_ip_address=None,
                    router_id=None,
                    status="DOWN",
                    port_details=None,
                )

    def _port_list(self, req: Req) -> Reply:
        items = self._filter(self.ports.values(), req)
        return Reply(200, {"ports": copy.deepcopy(items)})

    def _port_get(self, req: Req, ident: str) -> Reply:
        return self._neutron_get(self.ports, "port", ident, "Port")

    def _port_create(self, req: Req) -> Reply:
        body = (req.body or {}).get("port") if isinstance(req.body, dict) else None
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input: missing 'port'", "HTTPBadRequest")
        return Reply(201, {"port": copy.deepcopy(self._new_port(body))})

    def _port_delete(self, req: Req, ident: str) -> Reply:
        if ident not in self.ports:
            raise ApiError(404, f"Port {ident} could not be found.", "PortNotFound")
        del self.ports[ident]
        self._port_gone(ident)
        return Reply(204)

    def add_floating_ip(
        self,
        address: str | None = None,
        *,
        description: str = "",
        port_id: str | None = None,
        network: str = "public",
    ) -> dict[str, Any]:
        """Seed a floating IP (optionally associated with ``port_id``); returns it."""
        net = next(n for n in self.networks.values() if network in (n["id"], n["name"]))
        return self._new_fip(
            {
                "floating_network_id": net["id"],
                "floating_ip_address": address,
                "description": description,
                "port_id": port_id,
            }
        )

    def _new_fip(self, body: dict[str, Any]) -> dict[str, Any]:
        net = self.networks.get(body.get("floating_network_id") or "")
        if net is None or not net["router:external"]:
            raise ApiError(
                404 if net is None else 400,
                f"External network {body.get('floating_network_id')} could not be found.",
                "ExternalGatewayForFloatingIPNotFound",
            )
        address = body.get("floating_ip_address")
        if address:
            subnet = self.subnets[net["subnets"][0]]
            if ipaddress.ip_address(address) not in ipaddress.ip_network(subnet["cidr"]):
                raise ApiError(
                    400,
                    f"Invalid input: IP address {address} is not a valid IP "
                    f"for the specified subnet.",
                    "InvalidInput",
                )
            if any(f["floating_ip_address"] == address for f in self.floating_ips.values()):
                raise ApiError(
                    409,
                    f"Unable to complete operation for network {net['id']}. "
                    f"The IP address {address} is in use.",
                    "IpAddressInUse",
                )
        else:
            address = self._next_public_ip()
        ident = _new_id()
        fip = {
            "id": ident,
            "floating_ip_address": address,
            "floating_network_id": net["id"],
            "fixed_ip_address": None,
            "port_id": None,
            "router_id": None,
            "status": "DOWN",
            "description": body.get("description", ""),
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "dns_domain": "",
            "dns_name": "",
            "port_details": None,
            "qos_policy_id": None,
            "tags": [],
            "port_forwardings": [],
            "revision_number": 0,
            "created_at": self._ts() + "Z",
            "updated_at": self._ts() + "Z",
        }
        self.floating_ips[ident] = fip
        if body.get("port_id"):
            self._associate(fip, body["port_id"])
        return fip

    def _associate(self, fip: dict[str, Any], port_id: str | None) -> None:
        if port_id is None:
            fip.update(
                port_id=None,
                fixed_ip_address=None,
                router_id=None,
                status="DOWN",
                port_details=None,
            )
            return
        port = self.ports.get(port_id)
        if port is None:
            raise ApiError(404, f"Port {port_id} could not be found.", "PortNotFound")
        for other in self.floating_ips.values():
            if other["port_id"] == port_id and other["id"] != fip["id"]:
                raise ApiError(
                    409,
                    f"Cannot associate floating IP {fip['floating_ip_address']}"
                    f" ({fip['id']}) with port {port_id} using fixed IP "
                    f"{port['fixed_ips'][0]['ip_address']}, as that fixed IP "
                    f"already has a floating IP on external network "
                    f"{fip['floating_network_id']}.",
                    "FloatingIPPortAlreadyAssociated",
                )
        fip.update(
            port_id=port_id,
            fixed_ip_address=port["fixed_ips"][0]["ip_address"],
            router_id="router-" + port["network_id"][:8],
            status="ACTIVE",
            port_details={
                "name": port["name"],
                "network_id": port["network_id"],
                "mac_address": port["mac_address"],
                "admin_state_up": True,
                "status": "ACTIVE",
                "device_id": port["device_id"],
                "device_owner": port["device_owner"],
            },
        )

    def _fip_list(self, req: Req) -> Reply:
        return self._neutron_list(self.floating_ips, "floatingips", req)

    def _fip_get(self, req: Req, ident: str) -> Reply:
        return self._neutron_get(self.floating_ips, "floatingip", ident, "FloatingIP")

    def _fip_create(self, req: Req) -> Reply:
        body = (req.body or {}).get("floatingip") if isinstance(req.body, dict) else None
        if not isinstance(body, dict) or not body.get("floating_network_id"):
            raise ApiError(
                400,
                "Invalid input for operation: floating_network_id is required.",
                "HTTPBadRequest",
            )
        return Reply(201, {"floatingip": copy.deepcopy(self._new_fip(body))})

    def _fip_update(self, req: Req, ident: str) -> Reply:
        if ident not in self.floating_ips:
            raise ApiError(404, f"Floating IP {ident} could not be found.", "FloatingIPNotFound")
        fip = self.floating_ips[ident]
        body = (req.body or {}).get("floatingip", {}) if isinstance(req.body, dict) else {}
        if "port_id" in body:
            self._associate(fip, body["port_id"])
        if "description" in body:
            fip["description"] = body["description"]
        fip["revision_number"] += 1
        fip["updated_at"] = self._ts() + "Z"
        return Reply(200, {"floatingip": copy.deepcopy(fip)})

    def _fip_delete(self, req: Req, ident: str) -> Reply:
        if ident not in self.floating_ips:
            raise ApiError(404, f"Floating IP {ident} could not be found.", "FloatingIPNotFound")
        del self.floating_ips[ident]
        return Reply(204)
